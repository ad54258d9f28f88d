"""What `monitor run` costs with 1,000 identities against the simulator, and whether it leaks.

Prints, for the daemon in its own process (the simulator runs in this one, so its CPU is not
counted):

1. cycle: the daemon at full load (every identity due every 10 s): probes per second, hence the
   time of a cycle with every identity due at once, and CPU per probe, next to a bare-msal
   baseline (the same sign-ins and WhoAmI calls with msal and requests in 8 threads, no store,
   no scheduler);
2. the average CPU share of one core at the default 15-minute interval, measured over one whole
   interval in steady state (from the end of the start-up cycle to the end of the next cycle:
   every identity probed once, every other job as scheduled; this phase takes ~16 minutes),
   with its /metrics endpoint scraped every --scrape-seconds (15, as Prometheus would; 0: off)
   from a process of its own; then, between probe rounds, the daemon's CPU per scrape (a
   minute with a scrape every second against a minute without);
3. peak RSS (VmHWM);
4. a soak at a compressed interval (every identity every 60 s): RSS, threads and open file
   descriptors sampled every 10 s; growth after the first minute's warm-up.

Usage: python bench/daemon_cost.py [--identities 1000] [--soak-seconds 180] [--scrape-seconds 15]
Targets: CPU share <= 1 %, a scrape < 0.1 % of a core at 15 s, peak RSS <= 120 MB, no growth in
the soak.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from monitor.simulator import Simulator, scenario_from_dict

TENANTS = 10
CLK_TCK = os.sysconf("SC_CLK_TCK")


def guid(n: int, kind: int) -> str:
    return str(uuid.UUID(int=(kind << 96) | n, version=4))


def scenario(identities: int) -> dict[str, Any]:
    tenants = [
        {"name": f"t{t}", "id": guid(t, 1), "domain": f"t{t}.example"} for t in range(TENANTS)
    ]
    apps = [
        {
            "client_id": guid(i, 2),
            "tenant": f"t{i % TENANTS}",
            "secrets": [{"value": f"bench-secret-{i}", "end": "+365d"}],
        }
        for i in range(identities)
    ]
    environments = [
        {
            "name": f"env{t}",
            "tenant": f"t{t}",
            "members": [
                {"app": guid(i, 2), "roles": ["Integration"]}
                for i in range(identities)
                if i % TENANTS == t
            ],
        }
        for t in range(TENANTS)
    ]
    return {"name": "bench", "tenants": tenants, "apps": apps, "environments": environments}


def write_config(
    root: Path, sim: Simulator, identities: int, schedule: str, *, listen: str = ""
) -> Path:
    lines = [
        "[network]",
        f'ca_bundle = "{sim.ca_path}"',
        "probe_deadline_seconds = 20",
        "[database]",
        f'path = "{root / "monitor.db"}"',
        '[logging]\nlevel = "info"',
        f'[metrics]\nlisten = "{listen}"',
        schedule,
    ]
    for t in range(TENANTS):
        lines += [
            f"[tenants.t{t}]",
            f'tenant_id = "{guid(t, 1)}"',
            'cloud = "custom"',
            f'authority_host = "{sim.authority_host}"',
            f'graph_url = "{sim.graph_url}"',
            f"[environments.env{t}]",
            f'tenant = "t{t}"',
            f'url = "{sim.environment_url(f"env{t}")}"',
        ]
    for i in range(identities):
        lines += [
            f"[identities.app{i:04d}]",
            'kind = "application"',
            f'tenant = "t{i % TENANTS}"',
            f'client_id = "{guid(i, 2)}"',
            f'secret = "bench-secret-{i}"',
            f'environments = ["env{i % TENANTS}"]',
        ]
    config = root / "monitor.toml"
    config.write_text("\n".join(lines) + "\n")
    config.chmod(0o600)
    return config


class Daemon:
    """`monitor run` in a subprocess, its log in a file, its /proc figures on demand."""

    def __init__(self, config: Path, root: Path) -> None:
        self.log_path = root / f"daemon-{uuid.uuid4().hex[:6]}.log"
        self._log = self.log_path.open("wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "WATCHDOG_"))}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        self.offset = 0
        self.probed: dict[str, int] = {}
        self.started = False

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime

    def status(self, key: str) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise KeyError(key)

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def poll_log(self) -> None:
        with self.log_path.open("rb") as file:
            file.seek(self.offset)
            data = file.read()
        cut = data.rfind(b"\n") + 1
        self.offset += cut
        for line in data[:cut].splitlines():
            if not line.startswith(b"{"):
                continue
            event = json.loads(line)
            if event.get("event") == "probe":
                self.probed[event["identity"]] = self.probed.get(event["identity"], 0) + 1
            elif event.get("event") == "daemon started":
                self.started = True
            elif event.get("level") in ("error", "critical"):
                print("  daemon error:", event.get("event"), file=sys.stderr)

    def wait_started(self) -> None:
        while not self.started:
            if self.process.poll() is not None:
                raise SystemExit(f"daemon exited: {self.log_path.read_text()[-2000:]}")
            self.poll_log()
            time.sleep(0.05)

    def wait_all_probed(self, identities: int, times: int = 1, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll_log()
            if len(self.probed) >= identities and min(self.probed.values()) >= times:
                return
            time.sleep(0.1)
        raise SystemExit(f"only {len(self.probed)} identities probed in {timeout} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def baseline(sim: Simulator, identities: int) -> float:
    """Wall seconds for the same sign-ins + WhoAmI with bare msal in 8 threads."""
    import msal

    session = requests.Session()
    session.trust_env = False
    session.verify = str(sim.ca_path)

    def one(i: int) -> None:
        tenant = f"t{i % TENANTS}"
        environment = sim.environment_url(f"env{i % TENANTS}")
        app = msal.ConfidentialClientApplication(
            guid(i, 2),
            authority=sim.authority(tenant),
            client_credential=f"bench-secret-{i}",
            http_client=session,
            token_cache=msal.TokenCache(),
            instance_discovery=False,
        )
        token = app.acquire_token_for_client(scopes=[f"{environment}/.default"])
        answer = session.get(
            f"{environment}/api/data/v9.2/WhoAmI",
            headers={"Authorization": f"Bearer {token['access_token']}"},
            timeout=20,
        )
        answer.raise_for_status()

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(identities)))
    return time.monotonic() - started


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# The scraper runs in a process of its own: in this one, the simulator's threads would hold the
# GIL during a probe round and the latency would be this process's, not the daemon's.
SCRAPER = """
import sys, time, urllib.request
url, seconds = sys.argv[1], float(sys.argv[2])
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
while True:
    time.sleep(seconds)
    started = time.perf_counter()
    try:
        with opener.open(url, timeout=10) as answer:
            answer.read()
            ok = answer.status == 200
    except OSError:
        ok = False
    print(f"{time.perf_counter() - started:.6f} {int(ok)}", flush=True)
"""


class Scraper:
    """Scrapes a URL every *seconds* from its own process, as Prometheus would (the text
    format); counts and times it."""

    def __init__(self, url: str, seconds: float) -> None:
        self.url, self.seconds = url, seconds
        self.done = self.failed = 0
        self.latencies: list[float] = []
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", SCRAPER, self.url, str(self.seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        out, _ = self._process.communicate(timeout=15)
        self._process = None
        for line in out.splitlines():
            seconds, ok = line.split()
            self.latencies.append(float(seconds))
            self.done += 1
            self.failed += 0 if ok == "1" else 1

    def median_ms(self) -> float:
        return 1000 * statistics.median(self.latencies) if self.latencies else 0.0


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)] if ordered else 0.0


def idle_scrape_cost(daemon: Daemon, url: str, seconds: float = 60) -> tuple[float, float]:
    """Between probe rounds: the daemon's CPU over *seconds* without scraping, then over as
    long with a scrape every second; return (CPU per scrape in seconds, median latency)."""
    cpu0 = daemon.cpu_seconds()
    time.sleep(seconds)
    quiet = daemon.cpu_seconds() - cpu0
    scraper = Scraper(url, 1.0)
    cpu1 = daemon.cpu_seconds()
    scraper.start()
    time.sleep(seconds)
    scraper.stop()
    busy = daemon.cpu_seconds() - cpu1
    return (busy - quiet) / max(scraper.done, 1), scraper.median_ms() / 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--identities", type=int, default=1000)
    parser.add_argument("--soak-seconds", type=float, default=180)
    parser.add_argument(
        "--interval-timeout",
        type=float,
        default=1500,
        help="give up if the second cycle at the default interval is not done by then (s)",
    )
    parser.add_argument(
        "--soak-only", action="store_true", help="skip the baseline, cycle and default phases"
    )
    parser.add_argument(
        "--scrape-seconds",
        type=float,
        default=15,
        help="scrape /metrics this often during the default interval (0: endpoint off)",
    )
    args = parser.parse_args()
    n = args.identities
    root = Path(tempfile.mkdtemp(prefix="daemon-bench-"))
    print(f"daemon bench: {n} identities in {TENANTS} tenants, simulator on loopback; {root}")
    with Simulator(scenario_from_dict(scenario(n)), state_dir=root / "sim") as sim:
        if not args.soak_only:
            measure(args, root, sim, n)
        soak_phase(args, root, sim, n)
    return 0


def measure(args: argparse.Namespace, root: Path, sim: Simulator, n: int) -> None:
    """The baseline, the full-load cycle, the default interval and its peak RSS."""
    base = baseline(sim, n)
    print(f"bare msal baseline:  {n} sign-ins + WhoAmI in {base:.1f} s (8 threads)")

    # 1. capacity: every identity due every 10 s, far more than the daemon can do: it runs
    # at full speed, and the steady rate gives the time of a cycle with everything due.
    (root / "cycle").mkdir()
    fast = write_config(
        root / "cycle",
        sim,
        n,
        "[schedule]\nprobe_interval_seconds = 10\nprobe_jitter_seconds = 0",
    )
    daemon = Daemon(fast, root / "cycle")
    try:
        daemon.wait_started()
        time.sleep(15)  # past the start-up spread
        daemon.poll_log()
        probes0, cpu0, started = (
            sum(daemon.probed.values()),
            daemon.cpu_seconds(),
            time.monotonic(),
        )
        time.sleep(30)
        daemon.poll_log()
        probes = sum(daemon.probed.values()) - probes0
        rate, cpu_per_probe = (
            probes / (time.monotonic() - started),
            (daemon.cpu_seconds() - cpu0) / probes,
        )
    finally:
        daemon.stop()
    print(
        f"daemon cycle:        {rate:.0f} probes/s at full load (8 workers, 4 per tenant): "
        f"{n} identities in {n / rate:.1f} s; {1000 * cpu_per_probe:.1f} ms CPU per probe"
    )

    # 2. default interval, in steady state: after the start-up cycle (spread over the first
    # minute), measure from the end of that cycle to the end of the next one, which is one
    # whole 15-minute interval: every identity probed once, every other job run as scheduled.
    (root / "default").mkdir()
    port = free_port()
    listen = f"127.0.0.1:{port}" if args.scrape_seconds > 0 else ""
    default = write_config(root / "default", sim, n, "", listen=listen)
    daemon = Daemon(default, root / "default")
    scraper = Scraper(f"http://127.0.0.1:{port}/metrics", args.scrape_seconds)
    try:
        daemon.wait_started()
        if listen:
            scraper.start()
        started, cpu0 = time.monotonic(), daemon.cpu_seconds()
        daemon.wait_all_probed(n)
        first_wall, first_cpu = time.monotonic() - started, daemon.cpu_seconds() - cpu0
        print(
            f"start-up cycle:      {n} identities in {first_wall:.0f} s, {first_cpu:.1f} s CPU "
            "(first sign-ins, first evaluations)"
        )
        window_start, cpu1 = time.monotonic(), daemon.cpu_seconds()
        probes1 = sum(daemon.probed.values())
        daemon.wait_all_probed(n, times=2, timeout=args.interval_timeout)
        window = time.monotonic() - window_start
        window_cpu = daemon.cpu_seconds() - cpu1
        probes = sum(daemon.probed.values()) - probes1
        peak_default = daemon.status("VmHWM")
        threads_default = daemon.status("Threads")
        scraper.stop()
        if listen:
            per_scrape, idle_latency = idle_scrape_cost(daemon, f"http://127.0.0.1:{port}/metrics")
    finally:
        scraper.stop()
        daemon.stop()
    share = window_cpu / window
    print(
        f"default interval:    one steady interval of {window:.0f} s with {probes} probes cost "
        f"{window_cpu:.1f} s CPU ({1000 * window_cpu / max(probes, 1):.1f} ms per probe, "
        f"everything included): {100 * share:.2f} % of one core on average (target <= 1 %)"
    )
    if listen:
        print(
            f"  with /metrics scraped every {args.scrape_seconds:g} s: {scraper.done} scrapes "
            f"({scraper.failed} failed), median {scraper.median_ms():.1f} ms, "
            f"p95 {1000 * p95(scraper.latencies):.1f} ms"
        )
        print(
            f"  between probe rounds: {1000 * per_scrape:.1f} ms of the daemon's CPU per scrape "
            f"(60 s with a scrape every second against 60 s without) = "
            f"{100 * per_scrape / args.scrape_seconds:.3f} % of a core at a "
            f"{args.scrape_seconds:g} s interval (target < 0.1 %); median "
            f"{1000 * idle_latency:.1f} ms"
        )
    print(
        f"peak RSS:            {peak_default / 1024:.1f} MB at the default interval "
        f"(target <= 120 MB); {threads_default} threads"
    )


def soak_phase(args: argparse.Namespace, root: Path, sim: Simulator, n: int) -> None:
    """Every identity every 60 s for --soak-seconds: RSS, threads and fds over time."""
    (root / "soak").mkdir()
    soak = write_config(
        root / "soak",
        sim,
        n,
        "[schedule]\nprobe_interval_seconds = 60\nprobe_jitter_seconds = 5",
    )
    daemon = Daemon(soak, root / "soak")
    try:
        daemon.wait_started()
        samples: list[tuple[float, int, int, int]] = []
        started, cpu0 = time.monotonic(), daemon.cpu_seconds()
        while time.monotonic() - started < args.soak_seconds:
            time.sleep(10)
            daemon.poll_log()
            samples.append(
                (
                    time.monotonic() - started,
                    daemon.status("VmRSS"),
                    daemon.status("Threads"),
                    daemon.fds(),
                )
            )
        soak_cpu = daemon.cpu_seconds() - cpu0
        probes = sum(daemon.probed.values())
        peak_soak = daemon.status("VmHWM")
    finally:
        daemon.stop()
    print(
        f"soak:                {args.soak_seconds:.0f} s, {probes} probes "
        f"({probes / args.soak_seconds:.1f}/s), {100 * soak_cpu / args.soak_seconds:.1f} % "
        f"of a core, peak RSS {peak_soak / 1024:.1f} MB"
    )
    print("  t(s)   RSS(MB)  threads  fds")
    for at, rss, threads, fds in samples:
        print(f"  {at:5.0f}  {rss / 1024:7.1f}  {threads:7d}  {fds:4d}")
    # Warm-up: connection pools and caches fill during the first cycles (a step of ~20 MB).
    warm = [s for s in samples if s[0] >= max(120.0, args.soak_seconds / 3)] or samples
    first, last = warm[0], warm[-1]
    print(
        f"after warm-up:       RSS {first[1] / 1024:.1f} -> {last[1] / 1024:.1f} MB "
        f"({100 * (last[1] - first[1]) / first[1]:+.1f} %), threads {first[2]} -> {last[2]}, "
        f"fds {first[3]} -> {last[3]}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
