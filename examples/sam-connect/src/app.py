"""The function Connect's Invoke block calls: greets the caller and says which version answered.
Its answer is a flat map of strings (the block's STRING_MAP validation)."""

import logging
import os

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def lambda_handler(event, context):
    caller = event["Details"]["ContactData"]["CustomerEndpoint"]["Address"]
    logger.info("contact %s from %s", event["Details"]["ContactData"]["ContactId"], caller)
    return {"version": context.function_version, "greeting": f"{os.environ['GREETING']}, caller {caller[-4:]}"}
