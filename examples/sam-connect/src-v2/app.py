"""The change under rehearsal: a greeting that names the caller's loyalty tier, read from a table
whose name the code expects in LOYALTY_TABLE. The template does not set that variable: every call
this version serves fails with a KeyError, which is what the rehearsal shows before production does."""

import logging
import os

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def lambda_handler(event, context):
    caller = event["Details"]["ContactData"]["CustomerEndpoint"]["Address"]
    table = os.environ["LOYALTY_TABLE"]
    logger.info("contact %s from %s, tier from %s", event["Details"]["ContactData"]["ContactId"], caller, table)
    return {"version": context.function_version, "greeting": f"{os.environ['GREETING']}, valued caller {caller[-4:]}"}
