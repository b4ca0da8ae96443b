import platform


def handler(event, context):
    name = (event.get("queryStringParameters") or {}).get("name", "world")
    return f"Hello, {name}! (python {platform.python_version()}, path {event['rawPath']})\n"
