def lambda_handler(event, context):
    return {"version": context.function_version}
