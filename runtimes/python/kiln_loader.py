"""Loads a handler the way Lambda's python runtime does (awslambdaric bootstrap._get_handler):
`module.function`, `dir/module.function`, from the code dir and its site-packages. Each
failure carries Kiln's code and the error object Lambda would log for it."""

import os
import sys
import time

import kiln_logs

SHIM_DIR = os.path.dirname(os.path.abspath(__file__))
# Lambda variables the shim filled in itself (a later /init may fill them in again).
_defaulted = set()


class LoadError(Exception):
    def __init__(self, code, message, lambda_error):
        super().__init__(message)
        self.code = code
        self.lambda_error = lambda_error


def load_handler(code_dir, spec):
    """`module.function` (default handler.handler; `dir/module.function` too, as on Lambda),
    importable from code_dir and its site-packages. Errors name Kiln's code, and carry the
    error object Lambda's python runtime would log for the same failure."""
    spec = spec or "handler.handler"
    module_name, _, func_name = spec.rpartition(".")
    if not module_name or not func_name:
        raise LoadError("handler_not_found", f'handler "{spec}" must be module.function, e.g. handler.handler',
                        kiln_logs.make_error(f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)",
                                             "Runtime.MalformedHandlerName", None))
    module_name = module_name.replace("/", ".")
    for path in (os.path.join(code_dir, "site-packages"), code_dir):
        if path not in sys.path:
            sys.path.insert(0, path)
    if module_name.split(".")[0] in sys.builtin_module_names:
        message = f"Cannot use built-in module {module_name} as a handler module"
        raise LoadError("handler_load_failed", message,
                        kiln_logs.make_error(message, "Runtime.BuiltInModuleConflict", None))
    try:
        # What importlib.import_module does, without importing importlib (~0.5 ms).
        __import__(module_name)
        module = sys.modules[module_name]
    except ModuleNotFoundError as err:
        lambda_error = kiln_logs.make_error(f"Unable to import module '{module_name}': {err}",
                                            "Runtime.ImportModuleError", None)
        if err.name == module_name or module_name.startswith(f"{err.name}."):
            raise LoadError("handler_not_found", f"no module {module_name} in {code_dir}", lambda_error) from err
        raise LoadError("handler_load_failed", f"importing {module_name} failed: {traceback_text(err)}",
                        lambda_error) from err
    except ImportError as err:
        raise LoadError("handler_load_failed", f"importing {module_name} failed: {traceback_text(err)}",
                        kiln_logs.make_error(f"Unable to import module '{module_name}': {err}",
                                             "Runtime.ImportModuleError", None)) from err
    except SyntaxError as err:
        trace = [f'  File "{err.filename}" Line {err.lineno}\n    {err.text}']
        raise LoadError("handler_load_failed", f"importing {module_name} failed: {traceback_text(err)}",
                        kiln_logs.make_error(f"Syntax error in module '{module_name}': {err}",
                                             "Runtime.UserCodeSyntaxError", trace)) from err
    except BaseException as err:  # anything the module raised while it ran
        raise LoadError("handler_load_failed", f"importing {module_name} failed: {traceback_text(err)}",
                        kiln_logs.error_result(err, None, SHIM_DIR)) from err
    func = getattr(module, func_name, None)
    if not callable(func):
        raise LoadError("handler_not_found", f"module {module_name} has no function {func_name}(event, context)",
                        kiln_logs.make_error(f"Handler '{func_name}' missing on module '{module_name}'",
                                             "Runtime.HandlerNotFound", None))
    return func


def traceback_text(err, lines=20):
    """The traceback from the user's own frames on: the shim's and importlib's are noise."""
    import importlib
    import traceback

    noise = ("<frozen", SHIM_DIR, os.path.dirname(importlib.__file__))
    frames = [f for f in traceback.extract_tb(err.__traceback__) if not f.filename.startswith(noise)]
    text = "".join(traceback.format_list(frames) + traceback.format_exception_only(type(err), err))
    if frames:
        text = "Traceback (most recent call last):\n" + text
    return "\n".join(text.rstrip().splitlines()[-lines:])


def lambda_environment(info, code_dir, handler):
    """Lambda's variables the context reads, for a gateway that did not pass them."""
    name = str(info.get("name") or os.environ.get("KILN_FUNCTION") or "function")
    version = str(info.get("version") or os.environ.get("KILN_VERSION") or "$LATEST")
    defaults = {
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(info.get("memoryMb") or 128),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d', time.gmtime())}/[{version}]{os.urandom(16).hex()}",
        "LAMBDA_TASK_ROOT": code_dir,
        "_HANDLER": handler or "handler.handler",
    }
    for key, value in defaults.items():
        if key not in os.environ or key in _defaulted:
            os.environ[key] = value
            _defaulted.add(key)
