"""Files a user can share: a file made by mkstemp (0600) gets the mode the umask gives any new file."""

import os
import tempfile

import pytest

from deeplab_edu.files import current_umask, match_umask


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_temporary_file_gets_the_mode_of_the_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        assert current_umask() == mask
        fd, path = tempfile.mkstemp(dir=tmp_path)
        assert os.stat(path).st_mode & 0o777 == 0o600  # what mkstemp leaves
        match_umask(fd)
        os.close(fd)
        assert os.stat(path).st_mode & 0o777 == mode
    finally:
        os.umask(old)
    assert current_umask() == old
