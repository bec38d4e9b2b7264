"""The dashboard's frame: one time zone, projects from the UI, the editor's grammar, finishing."""

from __future__ import annotations

import gzip
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import ApiKey, Membership, Project
from dashboard import charts
from dashboard.models import UserPreference
from llm_contracts.llmcl import format_source
from llm_contracts.llmcl._grammar import KEYWORDS
from tests.server.conftest import Cast
from tests.server.dashboard.conftest import Fill
from tests.server.dashboard.test_charts import overview_of

ROOT = Path(__file__).resolve().parents[3]
GRAMMAR = ROOT / "editors" / "vscode" / "syntaxes" / "llmcl.tmLanguage.json"
WORD = re.compile(r"[a-z_]+")


@pytest.fixture
def owner(client: Client, cast: Cast) -> Client:
    client.force_login(cast.owner)
    return client


class TestTheGrammar:
    def _words(self, *sections: str) -> set[str]:
        grammar = json.loads(GRAMMAR.read_text())
        words: set[str] = set()
        for section in sections:
            for rule in grammar["repository"][section]["patterns"]:
                words.update(WORD.findall(rule["match"].replace("\\b", " ")))
        return words

    def test_its_words_are_exactly_the_llmcl_keywords(self) -> None:
        words = self._words("keywords", "logical", "constants", "variables")
        assert words == set(KEYWORDS)

    def test_the_editor_highlights_with_the_same_grammar_file(self) -> None:
        # build.sh copies the grammar beside the bundle; the editor reads that copy.
        assert (ROOT / "static" / "editor" / "llmcl.tmLanguage.json").read_bytes() == GRAMMAR.read_bytes()
        assert (ROOT / "static" / "editor" / "llmcl-editor.js").stat().st_size > 0


class TestFormat:
    def test_it_formats_the_posted_source(self, owner: Client, cast: Cast) -> None:
        messy = "contract   Reply{\n  ensure    len(output)<=500\n}\n"
        response = owner.post(f"/p/{cast.project_a.slug}/llmcl/format/", {"source": messy})
        assert response.status_code == 200
        assert response.json() == {"source": format_source(messy)}

    def test_source_that_does_not_parse_is_refused_with_the_reason(self, owner: Client, cast: Cast) -> None:
        response = owner.post(f"/p/{cast.project_a.slug}/llmcl/format/", {"source": "contract {"})
        assert response.status_code == 400
        assert "1:" in response.json()["error"]

    def test_an_outsider_gets_404(self, client: Client, cast: Cast) -> None:
        client.force_login(cast.outsider)
        assert client.post(f"/p/{cast.project_a.slug}/llmcl/format/", {"source": ""}).status_code == 404


class TestTimeZone:
    def test_the_browsers_zone_is_used_and_named_in_the_header(self, owner: Client, cast: Cast) -> None:
        # As the page's script writes it (encodeURIComponent).
        owner.cookies["tz"] = "Asia%2FKolkata"
        body = owner.get(f"/p/{cast.project_a.slug}/?range=1h").content.decode()
        assert 'id="header-tz-name">Asia/Kolkata<' in body
        now = timezone.now().astimezone(timezone.get_fixed_timezone(330))
        # The range line and the date inputs are in the same zone as the header's clock.
        assert f"– {now:%Y-%m-%d %H}:" in body and "Asia/Kolkata," in body
        assert f'name="end" value="{now:%Y-%m-%dT%H}:' in body

    def test_the_users_choice_wins_over_the_browser(self, owner: Client, cast: Cast) -> None:
        owner.cookies["tz"] = "Asia/Kolkata"
        response = owner.post("/timezone/", {"time_zone": "America/New_York", "next": "/p/alpha/"})
        assert response.status_code == 302 and response["Location"] == "/p/alpha/"
        assert UserPreference.objects.get(user=cast.owner).time_zone == "America/New_York"
        assert 'id="header-tz-name">America/New_York<' in owner.get("/p/alpha/").content.decode()
        # Blank goes back to the browser's.
        owner.post("/timezone/", {"time_zone": ""})
        assert 'id="header-tz-name">Asia/Kolkata<' in owner.get("/p/alpha/").content.decode()

    def test_an_unknown_zone_is_refused_and_nothing_changes(self, owner: Client, cast: Cast) -> None:
        response = owner.post("/timezone/", {"time_zone": "Mars/Olympus", "next": "https://evil.example/"})
        assert response.status_code == 400
        assert "Mars/Olympus" in response.content.decode()
        assert not UserPreference.objects.exists()
        # A bad cookie is ignored: the pages fall back to UTC.
        owner.cookies["tz"] = "../../etc/passwd"
        assert 'id="header-tz-name">UTC<' in owner.get("/p/alpha/").content.decode()

    def test_a_redirect_after_saving_stays_on_this_site(self, owner: Client, cast: Cast) -> None:
        response = owner.post("/timezone/", {"time_zone": "UTC", "next": "//evil.example/"})
        assert response.status_code == 302 and response["Location"] == "/"

    def test_a_custom_range_is_read_in_the_pages_zone(self, owner: Client, cast: Cast, fill: Fill) -> None:
        owner.cookies["tz"] = "Asia/Kolkata"
        response = owner.get(
            "/p/alpha/", {"range": "custom", "start": "2025-03-04T17:30", "end": "2025-03-04T18:30"}
        )
        time_range = response.context["o"].time_range
        assert time_range.start == datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
        assert time_range.end == datetime(2025, 3, 4, 13, 0, tzinfo=UTC)

    def test_charts_draw_the_wall_time_of_the_active_zone(self) -> None:
        minute = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
        with timezone.override("Asia/Kolkata"):
            figure = charts.violation_rate_figure(overview_of({minute: {"a": (4, 1)}}))
        assert "2025-03-04 17:30:00" in figure["data"][0]["x"]


class TestProjects:
    def test_a_user_creates_a_project_and_sees_the_first_event_snippet(
        self, owner: Client, cast: Cast
    ) -> None:
        response = owner.post("/projects/new/", {"name": "Alpha"})
        # "Alpha" exists already: same name, a slug of its own.
        project = Project.objects.exclude(pk=cast.project_a.pk).get(name="Alpha")
        assert project.slug == "alpha-2"
        assert response.status_code == 302 and response["Location"] == "/p/alpha-2/"
        assert Membership.objects.get(project=project).role == Membership.Role.OWNER
        body = owner.get("/p/alpha-2/").content.decode()
        key = re.search(r'Reporter\("http://testserver", "(lck_[^"]+)"\)', body)
        assert key is not None, body
        assert ApiKey.objects.get(project=project).prefix == key.group(1)[:12]
        assert "Send your first event" in body

    def test_a_project_with_events_shows_no_snippet(self, owner: Client, cast: Cast, fill: Fill) -> None:
        assert "Send your first event" in owner.get("/p/alpha/").content.decode()
        fill([{"minutes_ago": 3}])
        assert "Send your first event" not in owner.get("/p/alpha/").content.decode()

    def test_a_blank_name_is_refused_and_the_form_comes_back(self, owner: Client, cast: Cast) -> None:
        response = owner.post("/projects/new/", {"name": "   "})
        assert response.status_code == 400
        assert "This field is required." in response.content.decode()
        assert Project.objects.count() == 2

    def test_the_switcher_lists_only_the_users_projects(self, owner: Client, cast: Cast) -> None:
        body = owner.get("/p/alpha/").content.decode()
        switcher = body[body.index('<details class="switcher">') : body.index("</details>")]
        assert "Alpha" in switcher and "Bravo" not in switcher
        assert 'href="/projects/new/"' in switcher


class TestFinish:
    def test_a_missing_page_is_the_styled_404(self, owner: Client, cast: Cast) -> None:
        response = owner.get("/p/nope/")
        assert response.status_code == 404
        body = response.content.decode()
        assert "Not found" in body and "app.css" in body and "Back to your projects" in body

    def test_a_viewer_writing_gets_the_styled_403(self, client: Client, cast: Cast) -> None:
        client.force_login(cast.member)
        response = client.post(f"/p/{cast.project_a.slug}/settings/keys/", {"name": "x"})
        assert response.status_code == 403
        assert "Not allowed" in response.content.decode()

    def test_plotly_is_served_gzipped_and_cached_for_a_year(self, owner: Client, cast: Cast) -> None:
        body = owner.get("/p/alpha/").content.decode()
        src = re.search(r'<script src="(/vendor/plotly-[^"]+\.min\.js)"', body)
        assert src is not None
        response = owner.get(src.group(1), headers={"Accept-Encoding": "gzip, br"})
        assert response["Content-Encoding"] == "gzip"
        assert "max-age=31536000" in response["Cache-Control"] and "immutable" in response["Cache-Control"]
        raw = gzip.decompress(response.content)
        assert len(response.content) < len(raw) / 2
        plain = owner.get(src.group(1))
        assert "Content-Encoding" not in plain and b"".join(plain.streaming_content) == raw

    def test_every_page_has_a_favicon_and_no_inline_script(self, owner: Client, cast: Cast) -> None:
        body = owner.get("/p/alpha/").content.decode()
        assert 'rel="icon"' in body
        assert not re.search(r'<script(?![^>]*(\bsrc=|type="application/json"))[^>]*>', body)
        assert not re.search(r"\son[a-z]+=", body)
