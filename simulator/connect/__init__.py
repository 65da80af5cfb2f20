"""Amazon Connect semantics: the contact flow event, the Invoke AWS Lambda function block and the
flow language. Pure logic: it is handed an invoker and returns outcomes; it does no I/O itself.
"""
