"""The client's wire (simulator/client): the HTTP client, the fast invoker, timeouts and ids."""
