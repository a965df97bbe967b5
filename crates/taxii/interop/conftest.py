"""Configuration of the interop suite, from the environment set by run.sh.

TAXII_URL         server base URL (discovery is TAXII_URL/taxii2/)
TAXII_COLLECTION  id of a collection the writer can read and write, the
                  reader can only read and the outsider cannot see
TAXII_WRITER, TAXII_READER, TAXII_OUTSIDER   "user:password"
"""
import os

import pytest


def _credentials(name):
    value = os.environ[name]
    user, _, password = value.partition(":")
    return user, password


@pytest.fixture(scope="session")
def base_url():
    return os.environ["TAXII_URL"].rstrip("/")


@pytest.fixture(scope="session")
def collection_id():
    return os.environ["TAXII_COLLECTION"]


@pytest.fixture(scope="session")
def writer():
    return _credentials("TAXII_WRITER")


@pytest.fixture(scope="session")
def reader():
    return _credentials("TAXII_READER")


@pytest.fixture(scope="session")
def outsider():
    return _credentials("TAXII_OUTSIDER")
