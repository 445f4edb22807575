"""The mock over a real loopback socket: uvicorn thread, socket-level faults, CLI entry point,
scaled clock, and the pytest plugin's fixtures."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import tracemalloc

import httpx
import pytest
from deerapi_videos_mock import Fault, MockDeerAPI, ScaledClock

from ._support import AUTH


def _client(base_url: str, **kwargs: object) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers=AUTH, **kwargs)  # type: ignore[arg-type]


def test_serve_reports_the_port_and_shuts_down() -> None:
    mock = MockDeerAPI()
    with mock.serve() as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        assert base_url == f"http://127.0.0.1:{port}" and port > 0
        with _client(base_url) as client:
            created = client.post("/v1/videos", files={"prompt": (None, "cat")})
            assert created.status_code == 200
            assert created.headers["x-request-id"].startswith("req_")
            mock.complete_all()
            content = client.get(f"/v1/videos/{created.json()['id']}/content")
            assert content.content[4:8] == b"ftyp"
    with socket.socket() as probe:  # the port is free again
        probe.bind(("127.0.0.1", port))


def test_socket_faults() -> None:
    mock = MockDeerAPI()
    with mock.serve() as base_url, _client(base_url) as client:
        files = {"prompt": (None, "cat")}
        mock.inject(Fault.drop_before(operations="createVideo"))
        with pytest.raises(httpx.TransportError):  # usually RemoteProtocolError
            client.post("/v1/videos", files=files)
        assert mock.paid_jobs == []
        mock.inject(Fault.drop_after(operations="createVideo"))
        with pytest.raises(httpx.TransportError):
            client.post("/v1/videos", files=files)
        assert len(mock.paid_jobs) == 1
        mock.inject(Fault.html_error(502), Fault.status(503, times=1))
        assert client.get("/v1/videos").headers["content-type"].startswith("text/html")
        assert client.get("/v1/videos").status_code == 503
        assert client.get("/v1/videos").status_code == 200  # the server keeps serving


def test_truncated_download_delivers_bytes_then_resumes_with_range() -> None:
    mock = MockDeerAPI(content_size=1 << 20)
    video = mock.add_video()
    with mock.serve() as base_url, _client(base_url) as client:
        url = f"/v1/videos/{video.id}/content"
        mock.inject(Fault.truncate(300_000))
        received = bytearray()
        with pytest.raises(httpx.RemoteProtocolError), client.stream("GET", url) as response:
            assert response.headers["content-length"] == str(1 << 20)
            for chunk in response.iter_bytes():
                received += chunk
        assert len(received) == 300_000
        rest = client.get(url, headers={"Range": f"bytes={len(received)}-"})
        assert rest.status_code == 206
        assert rest.headers["content-range"] == f"bytes 300000-{(1 << 20) - 1}/{1 << 20}"
        assert bytes(received) + rest.content == client.get(url).content


def test_slow_response_meets_a_client_timeout() -> None:
    mock = MockDeerAPI()
    with mock.serve() as base_url, _client(base_url, timeout=0.02) as client:
        mock.inject(Fault.slow(0.2))
        with pytest.raises(httpx.ReadTimeout):
            client.get("/v1/videos")
        assert client.get("/v1/videos").status_code == 200


def test_64_mib_download_streams() -> None:
    mock = MockDeerAPI(content_size=64 << 20)
    video = mock.add_video()
    with mock.serve() as base_url, _client(base_url) as client:
        tracemalloc.start()
        try:
            total = 0
            with client.stream("GET", f"/v1/videos/{video.id}/content") as response:
                assert response.headers["content-length"] == str(64 << 20)
                for chunk in response.iter_raw():
                    total += len(chunk)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert total == 64 << 20
        assert peak < 16 << 20, f"peak {peak} bytes"  # client and server share this process


def test_scaled_clock_finishes_jobs_in_real_time() -> None:
    mock = MockDeerAPI(clock=ScaledClock(speed=400.0), job_duration=8.0)
    with mock.serve() as base_url, _client(base_url) as client:
        video = client.post("/v1/videos", files={"prompt": (None, "cat")}).json()
        deadline = time.monotonic() + 5
        status = video["status"]
        while status != "completed" and time.monotonic() < deadline:
            time.sleep(0.005)
            status = client.get(f"/v1/videos/{video['id']}").json()["status"]
        assert status == "completed"


def test_scaled_clock_arithmetic() -> None:
    clock = ScaledClock(speed=60.0, start=1000.0)
    first = clock.now()
    clock.advance(30)
    assert 1030.0 <= clock.now() - (first - 1000.0) < 1031.0
    with pytest.raises(ValueError):
        ScaledClock(speed=0)


def test_module_entry_point_serves_until_interrupted() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "deerapi_videos_mock", "--port", "0", "--api-key", "sk-cli",
         "--speed", "1000", "--log-level", "warning"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert "listening on http://127.0.0.1:" in line, line
        base_url = line.split("listening on ", 1)[1].split()[0]
        with httpx.Client(base_url=base_url, headers={"Authorization": "Bearer sk-cli"}) as client:
            deadline = time.monotonic() + 10
            while True:
                try:
                    assert client.get("/v1/videos").status_code == 200
                    break
                except httpx.ConnectError:
                    assert time.monotonic() < deadline
                    time.sleep(0.02)
            video = client.post("/v1/videos", files={"prompt": (None, "x")}).json()
            time.sleep(0.05)  # 50 real ms = 50 mock seconds at speed 1000
            assert client.get(f"/v1/videos/{video['id']}").json()["status"] == "completed"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


def test_plugin_fixture_in_process(deerapi_mock: MockDeerAPI) -> None:
    assert deerapi_mock.api_key == "sk-mock" and deerapi_mock.paid_jobs == []
    video = deerapi_mock.add_video(completed=False)
    deerapi_mock.clock.advance(8)
    assert deerapi_mock.status_of(video.id) == "completed"


@pytest.mark.deerapi_mock(job_duration=0, api_key="sk-marker")
def test_plugin_server_fixture_with_marker(deerapi_mock_server: tuple[MockDeerAPI, str]) -> None:
    mock, base_url = deerapi_mock_server
    with httpx.Client(base_url=base_url, headers={"Authorization": "Bearer sk-marker"}) as client:
        video = client.post("/v1/videos", files={"prompt": (None, "cat")}).json()
    assert video["status"] == "completed" and len(mock.paid_jobs) == 1


def test_plugin_is_usable_by_other_projects(tmp_path: pytest.TempPathFactory) -> None:
    test_file = tmp_path / "test_user_app.py"  # type: ignore[operator]
    test_file.write_text(
        "import httpx\n"
        "\n"
        "def test_app(deerapi_mock_server):\n"
        "    mock, base_url = deerapi_mock_server\n"
        "    with httpx.Client(base_url=base_url) as c:\n"
        "        assert c.get('/v1/videos').status_code == 401\n"
        "    assert mock.requests[0].status == 401\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_listening_socket_is_tcp_so_keep_alive_answers_are_not_delayed() -> None:
    # asyncio enables TCP_NODELAY only on accepted sockets whose proto is IPPROTO_TCP.
    import socket

    from deerapi_videos_mock._server import bind_socket

    sock = bind_socket("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
