"""Choosing a backend: URLs, environment variables, the scheme registry and its entry points."""

import os
import subprocess
import sys
import textwrap

import pytest

import conductor_store as cs
from conductor_store.urls import redact_url


def test_unknown_scheme_lists_the_known_ones():
    with pytest.raises(ValueError) as info:
        cs.open("nosuch://somewhere")
    message = str(info.value)
    assert "'nosuch'" in message
    for scheme in ("json://", "mem://", "surrealkv://", "ws://", "wss://"):
        assert scheme in message


@pytest.mark.parametrize("project", ["", "a/b", "..", "x" * 65, "-lead", None])
def test_bad_project_is_refused_before_opening(tmp_path, project):
    with pytest.raises(cs.ValidationError, match="project"):
        cs.open(str(tmp_path / "data"), project=project)
    assert not (tmp_path / "data").exists()


def test_plain_path_and_json_urls_open_the_same_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with cs.open(str(tmp_path / "data")) as store:
        store.put("tasks", "T1", {"via": "plain path"})
    with cs.open(f"json://{tmp_path}/data") as store:
        assert store.get("tasks", "T1")["via"] == "plain path"
    with cs.open("json://data") as store:  # relative to the working directory
        assert store.get("tasks", "T1")["via"] == "plain path"
        assert store.info()["backend"] == "json"


def test_default_is_json_in_the_user_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("CONDUCTOR_STORE_URL", raising=False)
    monkeypatch.delenv("SURREAL_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with cs.open(project="p1") as store:
        store.insert("tasks", {"n": 1}, id="T1")
        assert store.info()["backend"] == "json"
    assert (tmp_path / "xdg" / "conductor-store" / "p1" / "tasks" / "T1.json").exists()


def test_conductor_store_url_overrides_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("CONDUCTOR_STORE_URL", f"json://{tmp_path}/from-env")
    with cs.open() as store:
        store.insert("tasks", {"n": 1}, id="T1")
    assert (tmp_path / "from-env" / "default" / "tasks" / "T1.json").exists()


@pytest.mark.parametrize(
    "url, shown",
    [
        ("ws://root:s3cret@db.example:8000/rpc", "ws://root:***@db.example:8000/rpc"),
        ("wss://db.example", "wss://db.example"),
        ("json:///tmp/x", "json:///tmp/x"),
        ("ws://db:1/?ns=a&password=s3cret&db=b", "ws://db:1/?ns=a&password=***&db=b"),
        ("ws://u:pw@db:1/?token=abc", "ws://u:***@db:1/?token=***"),
        ("ws://db:1/?passwords_note=kept", "ws://db:1/?passwords_note=kept"),
    ],
)
def test_redact_url_hides_only_the_password(url, shown):
    assert redact_url(url) == shown


def test_third_party_backend_registers_through_an_entry_point(tmp_path):
    """A package declaring ``[conductor_store.backends] fake = ...`` is found by URL scheme."""
    site = tmp_path / "site"
    (site / "fakebackend-1.0.dist-info").mkdir(parents=True)
    (site / "fakebackend-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fakebackend\nVersion: 1.0\n"
    )
    (site / "fakebackend-1.0.dist-info" / "entry_points.txt").write_text(
        "[conductor_store.backends]\nfake = fakebackend:open_backend\n"
    )
    (site / "fakebackend.py").write_text(
        textwrap.dedent("""
        from conductor_store.backends import lookup

        def open_backend(url, *, project, **options):
            backend = lookup("json")(url.replace("fake://", "json://"), project=project)
            backend.name = "fake"
            return backend
    """)
    )
    script = textwrap.dedent(f"""
        import conductor_store as cs
        with cs.open("fake://{tmp_path}/data") as store:
            store.insert("tasks", {{"n": 1}}, id="T1")
            print(store.info()["backend"], store.get("tasks", "T1")["n"])
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path])}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["fake", "1"]


def test_register_refuses_to_replace_a_scheme_unless_asked():
    """register() of a taken scheme raises ValidationError naming it; replace=True replaces;
    the same factory again is a no-op."""

    def first(url, *, project, **options):
        raise AssertionError("not opened here")

    def second(url, *, project, **options):
        raise AssertionError("not opened here")

    cs.register("regtest", first)
    cs.register("regtest", first)  # the same factory: fine
    with pytest.raises(cs.ValidationError, match="'regtest' is already registered"):
        cs.register("regtest", second)
    with pytest.raises(cs.ValidationError, match="'json' is already registered"):
        cs.register("json", second)
    cs.register("regtest", second, replace=True)
    from conductor_store.backends import lookup

    assert lookup("regtest") is second
    with pytest.raises(cs.ValidationError, match="scheme"):
        cs.register("no spaces", first)


@pytest.mark.parametrize("url", [b"json:///tmp/x", 7, ["mem://"], ""], ids=repr)
def test_non_string_url_is_a_validation_error(url):
    """open() of a non-string (or empty) URL raises ValidationError, also a ValueError."""
    with pytest.raises(cs.ValidationError) as info:
        cs.open(url)
    assert isinstance(info.value, ValueError)


def test_unknown_scheme_names_the_url_without_its_password():
    """The unknown-scheme error is a ValidationError naming the URL with its password hidden."""
    with pytest.raises(cs.ValidationError) as info:
        cs.open("nosuch://alice:Sekr3t-Pw@db.example:1/x")
    message = str(info.value)
    assert "Sekr3t-Pw" not in message
    assert "nosuch://alice:***@db.example:1/x" in message
