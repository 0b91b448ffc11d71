"""Drives the real MLflow Python client against MLFLOW_TRACKING_URI (authgate in the tests).

    client.py flow         the whole user journey; prints the ids, checksums and records
    client.py try OP ...   one operation; prints its outcome: ok, or the exception's type,
                           error_code, HTTP status and message, and every warning MLflow logged
    client.py serve        a JSON-lines driver: reads {"id", "args", "env"} per line, runs
                           `args` as above with `env` as the whole MLFLOW_* environment, and
                           writes {"id", "code", "stdout", "stderr"} per line. mlflow is imported
                           once; each command runs in a fork of this process, so no client state
                           (cached server info, sessions, workspace) passes from one to the next.

The credential comes from the environment as the client reads it: MLFLOW_TRACKING_TOKEN (a JWT
or an API key, sent as "Authorization: Bearer ...") or MLFLOW_TRACKING_USERNAME/PASSWORD.
"""
import hashlib
import json
import logging
import os
import sys
import tempfile
import time
import warnings

warnings.filterwarnings("ignore")


class Recorder(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


recorder = Recorder()
logging.getLogger().addHandler(recorder)
logging.getLogger("mlflow").addHandler(recorder)

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_random(path, mb):
    with open(path, "wb") as f:
        for _ in range(mb):
            f.write(os.urandom(1 << 20))


def flow():
    client = MlflowClient()
    suffix = os.environ.get("FLOW_SUFFIX", str(int(time.time() * 1000)))
    exp_id = client.create_experiment(f"authgate-flow-{suffix}")
    run = client.create_run(exp_id, run_name="through-authgate")
    run_id = run.info.run_id
    client.log_param(run_id, "alpha", "0.5")
    client.log_metric(run_id, "loss", 0.25, step=1)
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric("accuracy", 0.9, now, 0), Metric("accuracy", 0.95, now, 1)],
        params=[Param("beta", "2")],
        tags=[RunTag("team", "platform")],
    )
    mb = int(os.environ.get("ARTIFACT_MB", "200"))
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "model.bin")
        write_random(src, mb)
        uploaded = sha256(src)
        client.log_artifact(run_id, src, artifact_path="model")
        os.remove(src)
        dst = os.path.join(tmp, "download")
        os.mkdir(dst)
        local = client.download_artifacts(run_id, "model/model.bin", dst)
        downloaded = sha256(local)
    model_name = f"authgate-model-{suffix}"
    client.create_registered_model(model_name)
    version = client.create_model_version(
        model_name, source=f"{run.info.artifact_uri}/model", run_id=run_id
    )
    client.set_terminated(run_id)
    found = client.search_runs([exp_id], filter_string="params.alpha = '0.5'")
    doomed = client.create_run(exp_id, run_name="to-delete")
    client.delete_run(doomed.info.run_id)
    return {
        "experiment_id": exp_id,
        "run_id": run_id,
        "deleted_run_id": doomed.info.run_id,
        "uploaded_sha256": uploaded,
        "downloaded_sha256": downloaded,
        "artifact_mb": mb,
        "model_name": model_name,
        "model_version": version.version,
        "search_hits": [r.info.run_id for r in found],
    }


def attempt(op, args):
    client = MlflowClient()
    if op == "search":
        return len(client.search_experiments(max_results=5))
    if op == "search-runs":
        return len(client.search_runs([args[0]]))
    if op == "download":
        with tempfile.TemporaryDirectory() as tmp:
            return sha256(client.download_artifacts(args[0], args[1], tmp))
    if op == "log":
        client.log_param(args[0], f"p{int(time.time() * 1e6)}", "1")
        return True
    if op == "create-run":
        return client.create_run(args[0]).info.run_id
    if op == "delete-run":
        client.delete_run(args[0])
        return True
    if op == "create-experiment":
        return client.create_experiment(f"exp-{int(time.time() * 1e6)}")
    if op == "set-experiment-tag":
        client.set_experiment_tag(args[0], "note", args[1] if len(args) > 1 else "x")
        return True
    if op == "get-experiment":
        return client.get_experiment(args[0]).name
    if op == "delete-experiment":
        client.delete_experiment(args[0])
        return True
    if op in ("grant", "revoke", "permission", "create-user"):
        from mlflow.server.auth.client import AuthServiceClient

        auth = AuthServiceClient(os.environ["MLFLOW_TRACKING_URI"])
        if op == "grant":
            auth.grant_user_permission(args[0], args[1], args[2], args[3])
            return True
        if op == "revoke":
            auth.revoke_user_permission(args[0], args[1], args[2])
            return True
        if op == "create-user":
            auth.create_user(args[0], "a-password-nobody-uses-0123")
            return True
        return auth.get_user_permission(args[0], args[1], args[2]).permission
    raise SystemExit(f"unknown op {op}")


def run(argv):
    if argv[0] == "flow":
        print(json.dumps(flow()))
        return
    started = time.monotonic()
    out = {}
    try:
        out["result"] = attempt(argv[1], argv[2:])
        out["ok"] = True
    except mlflow.exceptions.MlflowException as e:
        out.update(
            ok=False,
            type=type(e).__name__,
            error_code=e.error_code,
            status=e.get_http_status_code(),
            message=e.message,
            body=getattr(e, "json", None),
        )
    except Exception as e:  # noqa: BLE001 - reported to the test as is
        out.update(ok=False, type=type(e).__name__, message=str(e))
    out["seconds"] = round(time.monotonic() - started, 3)
    out["warnings"] = recorder.messages
    print(json.dumps(out))


def run_forked(command):
    """One command in a child of this process; returns its exit code, stdout and stderr."""
    out_fd, out_path = tempfile.mkstemp()
    err_fd, err_path = tempfile.mkstemp()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.dup2(out_fd, 1)
            os.dup2(err_fd, 2)
            sys.stdout = os.fdopen(1, "w", closefd=False)
            sys.stderr = os.fdopen(2, "w", closefd=False)
            for name in [n for n in os.environ if n.startswith("MLFLOW_") or n in FLOW_ENV]:
                del os.environ[name]
            os.environ.update(command.get("env", {}))
            recorder.messages = []
            run(command["args"])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:  # noqa: BLE001 - reported as the process would report it
            import traceback

            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    result = {"id": command["id"], "code": os.waitstatus_to_exitcode(status)}
    for key, fd, path in (("stdout", out_fd, out_path), ("stderr", err_fd, err_path)):
        os.close(fd)
        with open(path, encoding="utf-8", errors="replace") as f:
            result[key] = f.read()
        os.remove(path)
    return result


FLOW_ENV = {"ARTIFACT_MB", "FLOW_SUFFIX"}


def serve():
    import threading

    lock = threading.Lock()

    def answer(command):
        result = run_forked(command)
        with lock:
            sys.stdout.write(json.dumps(result) + "\n")
            sys.stdout.flush()

    for line in sys.stdin:
        if line.strip():
            command = json.loads(line)
            threading.Thread(target=answer, args=(command,), daemon=True).start()


if sys.argv[1] == "serve":
    serve()
else:
    run(sys.argv[1:])
