"""The docker runtime's figures from the engine's stats, on a sample recorded from this engine (a container
busy-looping under a limit of half a CPU, cgroup v1), and on the cgroup v2 and host-network shapes."""
from __future__ import annotations

import copy

from backend.runtimes.docker import describe_container_exit, exit_code_of
from backend.runtimes.docker_stats import cpu_percent, memory_bytes, network_bytes, resources_of

RECORDED = {
    "cpu_stats": {"cpu_usage": {"total_usage": 557273557, "percpu_usage": [546658843, 10614714],
                                "usage_in_kernelmode": 10000000, "usage_in_usermode": 530000000},
                  "system_cpu_usage": 2547320000000, "online_cpus": 2,
                  "throttling_data": {"periods": 12, "throttled_periods": 10, "throttled_time": 446466396}},
    "precpu_stats": {"cpu_usage": {"total_usage": 31826852, "percpu_usage": [21212138, 10614714],
                                   "usage_in_kernelmode": 10000000, "usage_in_usermode": 10000000},
                     "system_cpu_usage": 2545310000000, "online_cpus": 2,
                     "throttling_data": {"periods": 2, "throttled_periods": 0, "throttled_time": 0}},
    "memory_stats": {"usage": 3461120, "max_usage": 3813376, "limit": 25276059648,
                     "stats": {"cache": 20480, "inactive_file": 0, "total_inactive_file": 8192, "rss": 2727936}},
}


def test_cpu_percent_is_the_containers_share_of_the_system_delta_times_its_cpus() -> None:
    # (557273557 - 31826852) / (2547320000000 - 2545310000000) * 2 CPUs * 100, as `docker stats` shows it
    assert cpu_percent(RECORDED) == 52.3


def test_cpu_percent_between_two_one_shot_samples() -> None:
    earlier = {"cpu_stats": RECORDED["precpu_stats"]}
    later = {"cpu_stats": RECORDED["cpu_stats"], "precpu_stats": {"cpu_usage": {"total_usage": 0}}}
    assert cpu_percent(later, earlier) == 52.3
    assert cpu_percent(later) is None  # a one-shot sample alone has no earlier CPU time to compare with
    assert cpu_percent(later, later) is None  # no system time passed


def test_cpu_count_falls_back_to_the_per_cpu_figures() -> None:
    sample = copy.deepcopy(RECORDED)
    del sample["cpu_stats"]["online_cpus"]
    assert cpu_percent(sample) == 52.3


def test_memory_is_usage_without_the_inactive_page_cache() -> None:
    assert memory_bytes(RECORDED) == 3461120 - 8192  # cgroup v1: total_inactive_file
    v2 = {"memory_stats": {"usage": 5000000, "stats": {"inactive_file": 1000000, "anon": 3000000}}}
    assert memory_bytes(v2) == 4000000
    assert memory_bytes({"memory_stats": {}}) is None  # an ended container


def test_network_is_summed_over_interfaces_and_absent_on_the_host_network() -> None:
    networks = {"networks": {"eth0": {"rx_bytes": 1000, "tx_bytes": 200}, "eth1": {"rx_bytes": 5, "tx_bytes": 7}}}
    assert network_bytes(networks) == (1005, 207)
    assert network_bytes(RECORDED) == (None, None)
    figures = resources_of({**RECORDED, **networks}, None)
    assert (figures.cpu_percent, figures.memory_bytes, figures.network_rx_bytes) == (52.3, 3452928, 1005)


def test_a_containers_end_in_the_process_runtimes_words() -> None:
    assert exit_code_of(137) == -9 and exit_code_of(143) == -15 and exit_code_of(0) == 0 and exit_code_of(2) == 2
    assert describe_container_exit({"ExitCode": 137, "OOMKilled": True}, 256 * 2**20, "loading") == \
        "killed: out of memory (limit 256 MiB): loading"
    assert describe_container_exit({"ExitCode": 137, "OOMKilled": False}, None, "") == "killed by SIGKILL"
    assert describe_container_exit({"ExitCode": 3, "OOMKilled": False}, None, "boom") == "exited with code 3: boom"
