"""The real huggingface_hub client against a real `dailypapers serve` process."""

import os
import subprocess
import sys
from datetime import date

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import BadRequestError, HfHubHTTPError
from huggingface_hub.utils import get_session

from .conftest import DATA, running_serve
from .llmfixture import FakeLLM, summary_for


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("site")
    env = {
        **os.environ,
        "DAILYPAPERS_DATABASE_URL": f"sqlite:///{folder / 'site.db'}",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    env.pop("HF_HUB_OFFLINE", None)
    cli = [sys.executable, "-m", "dailypapers"]
    subprocess.run([*cli, "demo"], env=env, check=True, capture_output=True, timeout=120)
    subprocess.run(
        [*cli, "ingest", "hf-daily", str(DATA / "hf_daily_papers_CONSTRUCTED.json")],
        env=env,
        capture_output=True,
        timeout=120,
    )
    with FakeLLM() as llm:  # AI summaries on: the client must read them and stay green
        summarized = {
            **env,
            "DAILYPAPERS_SUMMARY_LLM_URL": llm.url,
            "DAILYPAPERS_SUMMARIES_PER_RUN": "500",
        }
        ran = subprocess.run(
            [*cli, "jobs", "run", "summaries"], env=summarized, capture_output=True, timeout=300
        )
        assert ran.returncode == 0, ran.stderr
    with running_serve(env) as url:
        get_session().timeout = 30
        yield url


@pytest.fixture
def api(server):
    return HfApi(endpoint=server, token=False)


def test_list_daily_papers_by_date(api):
    papers = list(api.list_daily_papers(date="2024-07-22"))
    assert [p.id for p in papers] == ["2407.13168", "2104.12255"]
    scicode = papers[0]
    assert scicode.title == "SciCode: A Research Coding Benchmark Curated by Scientists"
    assert scicode.upvotes == 17 and scicode.submitted_by.username == "amber1120"
    assert scicode.submitted_at.date() == date(2024, 7, 22)
    assert scicode.published_at.date() == date(2024, 7, 18)
    assert [a.name for a in scicode.authors] == ["Minyang Tian", "Xinan Chen"]
    assert scicode.github_repo == "https://github.com/scicode-bench/SciCode"
    assert scicode.organization.fullname == "SciCode Team"
    assert scicode.ai_summary == summary_for(scicode.summary)
    assert scicode.ai_keywords == ["test papers", "fake model"]
    assert papers[1].upvotes is None  # the client turns 0 into None


def test_list_daily_papers_every_parameter(api):
    week = list(api.list_daily_papers(week="2024-W30"))
    assert {p.id for p in week} == {"2407.13168", "2104.12255"}
    month = list(api.list_daily_papers(month="2025-10"))
    assert len(month) == 22 and all(p.submitted_at.strftime("%Y-%m") == "2025-10" for p in month)
    mine = list(api.list_daily_papers(submitter="akhaliq"))
    assert [p.submitted_by.fullname for p in mine] == ["AK"]
    first = list(api.list_daily_papers(limit=10))
    assert len(first) == 10
    second = list(api.list_daily_papers(limit=10, p=1))
    assert not {p.id for p in first} & {p.id for p in second}
    assert list(api.list_daily_papers(date="2025-10-29", p=100)) == []
    trending = list(api.list_daily_papers(sort="trending", limit=5))
    assert trending and all(p.title for p in trending)
    assert list(api.list_daily_papers(sort="publishedAt", limit=1))[0].submitted_at.date() == date(
        2025, 10, 29
    )


def test_bad_date_is_a_bad_request(api):
    with pytest.raises(BadRequestError, match="is not a real day"):
        list(api.list_daily_papers(date="2025-13-40"))


def test_paper_info_and_unknown_paper(api):
    info = api.paper_info("2407.13168")
    assert info.id == "2407.13168" and info.upvotes == 17
    assert info.ai_summary == summary_for(info.summary)
    assert info.title == "SciCode: A Research Coding Benchmark Curated by Scientists"
    old_style = api.paper_info("cond-mat/0703772")
    assert old_style.id == "cond-mat/0703772" and old_style.authors
    with pytest.raises(HfHubHTTPError) as caught:
        api.paper_info("1234.56789")
    assert caught.value.response.status_code == 404


def test_list_papers_and_read_paper(api):
    hits = list(api.list_papers(query="coding benchmark", limit=2))
    assert hits[0].id == "2407.13168" and hits[0].title.startswith("SciCode")
    assert len(list(api.list_papers(query="quantum", limit=2))) == 2
    text = api.read_paper("2407.13168")
    assert text.startswith("# SciCode: A Research Coding Benchmark Curated by Scientists")
    assert "https://arxiv.org/abs/2407.13168" in text
