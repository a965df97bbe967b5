"""Interop suite: the OASIS taxii2-client against a detente TAXII 2.1 server.

Every object the server returns is checked with the OASIS stix2-validator.
Objects get fresh ids per run, so the suite can run against a collection that
already holds data.
"""
import uuid

import pytest
import requests
from stix2validator import ValidationOptions, validate_instance
from taxii2client.exceptions import AccessError
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

TAXII = "application/taxii+json;version=2.1"
OPTIONS = ValidationOptions(version="2.1")


def indicator(obj_id=None, modified="2021-01-01T00:00:00.000Z", n=0):
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": obj_id or "indicator--%s" % uuid.uuid4(),
        "created": "2021-01-01T00:00:00.000Z",
        "modified": modified,
        "name": "interop indicator %d" % n,
        "indicator_types": ["malicious-activity"],
        "pattern": "[ipv4-addr:value = '198.51.100.%d']" % (n % 256),
        "pattern_type": "stix",
        "valid_from": "2021-01-01T00:00:00Z",
        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
    }


def malware():
    return {
        "type": "malware",
        "spec_version": "2.1",
        "id": "malware--%s" % uuid.uuid4(),
        "created": "2021-01-01T00:00:00.000Z",
        "modified": "2021-01-01T00:00:00.000Z",
        "name": "Interop Ivy",
        "malware_types": ["remote-access-trojan"],
        "is_family": True,
    }


def assert_valid(objects):
    assert objects, "expected objects"
    for obj in objects:
        result = validate_instance(obj, OPTIONS)
        assert result.is_valid, [str(e) for e in result.errors]


def ids_of(envelope):
    return [o["id"] for o in envelope.get("objects", [])]


@pytest.fixture
def api_root_url(base_url):
    return base_url + "/taxii2/api/"


@pytest.fixture
def collection_url(api_root_url, collection_id):
    return "%scollections/%s/" % (api_root_url, collection_id)


@pytest.fixture
def col(collection_url, writer):
    return Collection(collection_url, user=writer[0], password=writer[1])


def add(col, objects):
    status = col.add_objects({"objects": objects})
    assert status.status == "complete"
    return status


def test_discovery(base_url, writer):
    server = Server(base_url + "/taxii2/", user=writer[0], password=writer[1])
    assert server.title
    assert len(server.api_roots) == 1
    assert server.default is not None
    assert server.default.url.endswith("/taxii2/api/")
    root = server.api_roots[0]
    assert TAXII in root.versions
    assert root.max_content_length > 0


def test_collections(api_root_url, collection_id, writer, reader):
    root = ApiRoot(api_root_url, user=writer[0], password=writer[1])
    found = [c for c in root.collections if c.id == collection_id]
    assert len(found) == 1
    assert found[0].can_read and found[0].can_write
    assert "application/stix+json;version=2.1" in found[0].media_types
    root = ApiRoot(api_root_url, user=reader[0], password=reader[1])
    found = [c for c in root.collections if c.id == collection_id]
    assert found[0].can_read and not found[0].can_write


def test_add_objects_and_status(col, api_root_url, writer):
    bad = indicator()
    del bad["pattern"]
    good = [indicator(n=1), malware()]
    status = col.add_objects({"objects": good + [bad]})
    assert status.status == "complete"
    assert status.total_count == 3
    assert status.success_count == 2
    assert status.failure_count == 1
    assert status.pending_count == 0
    assert status.failures[0]["id"] == bad["id"]
    assert sorted(s["id"] for s in status.successes) == sorted(o["id"] for o in good)
    root = ApiRoot(api_root_url, user=writer[0], password=writer[1])
    again = root.get_status(status.id)
    assert again.success_count == 2
    envelope = col.get_objects(id=[o["id"] for o in good])
    assert sorted(ids_of(envelope)) == sorted(o["id"] for o in good)
    assert_valid(envelope["objects"])


def test_paging_with_as_pages(col):
    objects = [indicator(n=n) for n in range(25)]
    add(col, objects)
    wanted = [o["id"] for o in objects]
    pages = list(as_pages(col.get_objects, per_request=10, id=wanted))
    assert [len(p.get("objects", [])) for p in pages] == [10, 10, 5]
    seen = [i for p in pages for i in ids_of(p)]
    assert seen == wanted, "ascending date_added, nothing skipped or repeated"
    for page in pages:
        assert_valid(page["objects"])
    manifests = list(as_pages(col.get_manifest, per_request=10, id=wanted))
    records = [r for p in manifests for r in p.get("objects", [])]
    assert [r["id"] for r in records] == wanted
    assert all(r["media_type"] == "application/stix+json;version=2.1" for r in records)


def test_filters(col):
    first, second, mal = indicator(n=1), indicator(n=2), malware()
    add(col, [first])
    add(col, [second, mal])
    every = [first["id"], second["id"], mal["id"]]
    assert ids_of(col.get_objects(id=every, type="malware")) == [mal["id"]]
    assert sorted(ids_of(col.get_objects(id=every, type=["indicator", "malware"]))) == sorted(every)
    assert ids_of(col.get_objects(id=every, spec_version="2.0")) == []
    manifest = col.get_manifest(id=[first["id"]])
    added = manifest["objects"][0]["date_added"]
    later = col.get_objects(id=every, added_after=added)
    assert ids_of(later) == [second["id"], mal["id"]]
    assert_valid(later["objects"])


def test_versions(col):
    obj_id = "indicator--%s" % uuid.uuid4()
    v1 = indicator(obj_id, "2021-01-01T00:00:00.000Z")
    v2 = indicator(obj_id, "2022-01-01T00:00:00.000Z")
    add(col, [v1])
    add(col, [v2])
    add(col, [v1])  # resubmitting an existing version adds nothing
    versions = col.object_versions(obj_id)
    assert versions["versions"] == ["2021-01-01T00:00:00.000Z", "2022-01-01T00:00:00.000Z"]
    latest = col.get_object(obj_id)
    assert latest["objects"] == [v2]
    assert col.get_object(obj_id, version="first")["objects"] == [v1]
    both = col.get_object(obj_id, version="all")
    assert len(both["objects"]) == 2
    assert_valid(both["objects"])
    at = col.get_object(obj_id, version="2021-01-01T00:00:00.000Z")
    assert at["objects"] == [v1]


def test_delete(col):
    obj = indicator()
    add(col, [obj])
    assert_valid(col.get_object(obj["id"])["objects"])
    col.delete_object(obj["id"])
    with pytest.raises(requests.HTTPError) as err:
        col.get_object(obj["id"])
    assert err.value.response.status_code == 404


def test_access_errors(collection_url, reader, outsider, writer):
    hidden = Collection(collection_url, user=outsider[0], password=outsider[1])
    with pytest.raises(requests.HTTPError) as err:
        hidden.get_objects()
    assert err.value.response.status_code in (403, 404)
    read_only = Collection(collection_url, user=reader[0], password=reader[1])
    with pytest.raises(AccessError):
        read_only.add_objects({"objects": [indicator()]})
    r = requests.post(collection_url + "objects/", auth=reader, json={"objects": [indicator()]},
                      headers={"Accept": TAXII, "Content-Type": TAXII})
    assert r.status_code == 403
    assert r.json()["http_status"] == "403"
    wrong = Collection(collection_url, user=writer[0], password="not-the-password")
    with pytest.raises(requests.HTTPError) as err:
        wrong.get_objects()
    assert err.value.response.status_code == 401
    assert err.value.response.headers["WWW-Authenticate"].startswith("Basic")


def test_media_type_errors(collection_url, writer):
    r = requests.get(collection_url + "objects/", auth=writer, headers={"Accept": "application/json"})
    assert r.status_code == 406
    r = requests.post(collection_url + "objects/", auth=writer, json={"objects": [indicator()]},
                      headers={"Accept": TAXII, "Content-Type": "application/json"})
    assert r.status_code == 415
    r = requests.get(collection_url + "objects/", auth=writer, headers={"Accept": TAXII},
                     params={"next": "forged-cursor"})
    assert r.status_code == 400
    assert r.headers["Content-Type"] == TAXII
