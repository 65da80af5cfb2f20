"""The client's side of AWS's wire: the aiobotocore session, the fast Invoke path, HTTP/1.1, timeouts, ids, event loops, the admin client."""
