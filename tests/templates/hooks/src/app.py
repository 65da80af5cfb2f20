def lambda_handler(event, context):
    return {"greeting": "hello", "version": context.function_version}
