"""Connect's native asynchronous mode, the alternative to the tracker: the flow invokes this function
asynchronously, keeps the caller entertained, and loads its result later (no table, no polling)."""

import os
import time

WORK_SECONDS = float(os.environ.get("WORK_SECONDS", "1.5"))


def handler(event, context):
    time.sleep(WORK_SECONDS)  # the same slow backend, one call a contact
    return {"result": "your balance is 42 dollars", "processedBy": context.function_version}
