"""Starts a real parleyd on free loopback ports with a temporary configuration, for interop tests."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(process, timeout=15):
    """SIGTERM, then SIGKILL if the process has not ended after `timeout` seconds."""
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Parleyd:
    def __init__(self, binary, registration="open", extra=""):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="parley-interop-")
        self.port = free_port()
        self.direct_port = free_port()
        self.config = os.path.join(self.dir, "parley.toml")
        with open(self.config, "w") as f:
            f.write(f"""
data_dir = "{self.dir}/var"
log_level = "debug"
threads = 2

[[host]]
domain = "localhost"
registration = "{registration}"

[[listener]]
address = "127.0.0.1"
port = {self.port}
tls = "starttls"

[[listener]]
address = "127.0.0.1"
port = {self.direct_port}
tls = "direct"

[storage]
backend = "sqlite"
{extra}
""")
        self.log = []
        self.process = None
        self.log_changed = threading.Condition()

    def start(self, timeout=30):
        self.process = subprocess.Popen([self.binary, "--config", self.config], stderr=subprocess.PIPE,
                                        stdout=subprocess.DEVNULL, text=True)
        ready = threading.Event()

        def pump():
            for line in self.process.stderr:
                with self.log_changed:
                    self.log.append(line.rstrip())
                    self.log_changed.notify_all()
                if "serving localhost" in line:
                    ready.set()
            ready.set()
            with self.log_changed:
                self.log_changed.notify_all()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(timeout) or self.process.poll() is not None:
            raise RuntimeError("parleyd did not start:\n" + "\n".join(self.log))
        return self

    def wait_for_log(self, text, timeout):
        """Waits (woken by each new log line, bounded by `timeout`) until a log line contains `text`."""
        with self.log_changed:
            return self.log_changed.wait_for(lambda: any(text in line for line in self.log), timeout)

    def kill(self, timeout=15):
        """SIGKILLs parleyd (no shutdown code runs) and keeps the data directory, so that start() can
        run a new parleyd on the same configuration, ports and data. Returns the exit status."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=timeout)
        return self.process.returncode if self.process else None

    def stop(self):
        stop_process(self.process)
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.process.returncode if self.process else None

    def dump_log(self):
        print("---- parleyd log ----")
        for line in self.log[-200:]:
            print(line)
