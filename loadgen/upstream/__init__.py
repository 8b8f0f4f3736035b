"""The routers the load generator calls (the Dynamo frontends' OpenAI API) and how healthy they look."""
