"""Following a page that started a job: shared by the page and report tests."""
from __future__ import annotations


def follow_job(client, response, timeout=30.0):
    """The page a job redirects to while it runs: poll it (as its meta refresh does) until the job ends."""
    import time

    assert response.status_code == 303 and "/jobs/" in response.headers["Location"]
    url, deadline = response.headers["Location"], time.monotonic() + timeout
    while time.monotonic() < deadline:
        page = client.get(url)
        if page.status_code != 200 or '<meta http-equiv="refresh"' not in page.get_data(as_text=True):
            return page
        time.sleep(0.05)
    raise AssertionError(f"{url} still refreshing after {timeout} s")
