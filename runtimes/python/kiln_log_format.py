"""Lambda's `logging` setup (awslambdaric bootstrap._setup_logging and its JsonFormatter),
loaded only once user code imports `logging`."""

import os
import sys
import time

from kiln_logs import ERROR_LINE_JOIN, JSON_DATE_FORMAT, current_request_id, json_format

TEXT_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
_configured = False


def configure(logging):
    """Lambda's root handler (awslambdaric bootstrap._setup_logging)."""
    global _configured
    if _configured:
        return
    _configured = True
    logging.Formatter.converter = time.gmtime

    class LambdaLoggerHandler(logging.Handler):
        def emit(self, record):
            text = self.format(record).rstrip("\n").replace("\n", ERROR_LINE_JOIN)
            sys.stdout.write(text + "\n")

    class LambdaLoggerFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = current_request_id()
            record.tenant_id = None
            return True

    handler = LambdaLoggerHandler()
    handler.setFormatter(json_formatter(logging) if json_format() else logging.Formatter(TEXT_FORMAT, DATE_FORMAT))
    handler.addFilter(LambdaLoggerFilter())
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    level = {None: "", "TRACE": "DEBUG"}.get(level, level).upper()
    root = logging.getLogger()
    if level in logging._nameToLevel:
        root.setLevel(level)
    root.addHandler(handler)


# LogRecord attributes that are not user extras (awslambdaric lambda_runtime_log_utils).
RESERVED = frozenset(("name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module",
                      "exc_info", "exc_text", "stack_info", "lineno", "funcName", "created", "msecs",
                      "relativeCreated", "thread", "threadName", "processName", "process", "aws_request_id",
                      "tenant_id", "_frame_type", "taskName"))


def json_formatter(logging):
    """awslambdaric's JsonFormatter: one JSON object a record, extras included."""
    import json
    import traceback

    encode = json.JSONEncoder(ensure_ascii=False).encode

    class JsonFormatter(logging.Formatter):
        def format(self, record):
            record.levelno = min(50, max(0, record.levelno)) // 10 * 10
            record.levelname = logging.getLevelName(record.levelno)
            exc = record.exc_info
            result = {
                "timestamp": self.formatTime(record, self.datefmt),
                "level": record.levelname,
                "message": record.getMessage(),
                "logger": record.name,
                "stackTrace": traceback.format_tb(exc[2]) if exc else None,
                "errorType": exc[0].__name__ if exc else None,
                "errorMessage": str(exc[1]) if exc else None,
                "requestId": getattr(record, "aws_request_id", None),
                "location": f"{record.pathname}:{record.funcName}:{record.lineno}" if exc else None,
            }
            result.update((k, v) for k, v in record.__dict__.items() if k not in RESERVED and k not in result)
            return encode({k: v for k, v in result.items() if v is not None}) + "\n"

    return JsonFormatter(datefmt=JSON_DATE_FORMAT)
