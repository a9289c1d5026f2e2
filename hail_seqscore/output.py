"""Output files that never destroy an input and never look complete unless they are.

* :func:`check_not_input` refuses an output that is one of the inputs: the same path, another
  name for it, a symbolic or hard link (same device and inode), also through stdin/stdout.
* :class:`AtomicFile` writes a regular file through a temporary ``NAME.XXXXXX.part`` beside it
  and renames it over ``NAME`` only on success; on an error or an interrupt the temporary is
  removed, and a killed process leaves only the ``.part`` name.  Stale companions (a ``.tbi`` of
  an earlier ``NAME``) are removed or replaced in the same step.  ``-`` (stdout), devices and
  pipes are written directly.  Every ``OSError`` of the output (disk full, permission, a
  directory) becomes one :class:`~errors.OutputError`.
"""

from __future__ import annotations

import os
import secrets
import stat
import sys
from typing import Callable, Iterable, Mapping

from .errors import OutputError, OutputIsInputError

#: index files that describe a bgzipped file and go stale when it is replaced
INDEX_SUFFIXES = (".tbi", ".csi")


def _identity(path: str | int) -> tuple[int, int] | None:
    """(st_dev, st_ino) of a regular file (a path or an open descriptor), else None."""
    try:
        st = os.fstat(path) if isinstance(path, int) else os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def _std_fd(path: str, fd: int) -> str | int:
    return fd if path == "-" else path


def check_not_input(output: str, inputs: Mapping[str, str | None], *,
                    suffixes: Iterable[str] = ()) -> None:
    """Raise :class:`OutputIsInputError` when ``output`` (or ``output + suffix``) is the same
    file as one of ``inputs`` (``{what: path}``; ``-`` is stdin for inputs, stdout for the
    output).  Only regular files are compared: a terminal on stdin and stdout is fine."""
    outs = [(output, _identity(_std_fd(output, 1)))]
    outs += [(output + s, _identity(output + s)) for s in suffixes if output != "-"]
    for what, path in inputs.items():
        if not path:
            continue
        ident = _identity(_std_fd(path, 0))
        for name, out_ident in outs:
            if ident is not None and ident == out_ident:
                shown_in = "stdin" if path == "-" else path
                shown_out = "stdout" if name == "-" else name
                raise OutputIsInputError(
                    f"the output {shown_out} is the {what} {shown_in} (the same file); "
                    "writing it would destroy the input: choose another output name")


def _strerror(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError:
        pass   # best effort: the error that got us here is the one to report


def _silence_stdout() -> None:
    """Point stdout at /dev/null: what is still buffered cannot be written either, and the
    interpreter's final flush must not print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


class AtomicFile:
    """A binary output stream to ``path`` (``-`` = stdout), optionally bgzipped.

    ``with AtomicFile(path) as out: out.write(b"...")`` renames the temporary into place when
    the block ends normally and removes it otherwise.  ``companions`` are suffixes of files
    written beside the temporary (``tmp + ".tbi"``) that move along; stale ``INDEX_SUFFIXES``
    beside ``path`` that are not companions are removed, since they describe the old file.
    ``what`` names the output in messages."""

    def __init__(self, path: str, *, bgzip: bool = False, companions: Iterable[str] = (),
                 what: str = "output"):
        self.path = path
        self.what = what
        self.bgzip = bgzip
        self.companions = tuple(companions)
        self.target = path if path == "-" else os.path.realpath(path)   # through a symlink
        self.tmp: str | None = None
        self._fh = None
        self._stdout = path == "-"
        self._atomic = False
        self._committed = False

    # ---- opening -----------------------------------------------------------------------
    @property
    def atomic(self) -> bool:
        """True for regular files (new or existing); stdout, devices and pipes are direct."""
        if self._stdout:
            return False
        try:
            st = os.stat(self.target)
        except FileNotFoundError:
            return True
        except OSError as exc:
            raise self._error(exc) from None
        if stat.S_ISDIR(st.st_mode):
            raise OutputError(f"cannot write the {self.what} {self.path}: it is a directory")
        return stat.S_ISREG(st.st_mode)

    def open(self) -> "AtomicFile":
        try:
            if self._stdout:
                sys.stdout.flush()
                self._fh = sys.stdout.buffer
            elif self.atomic:
                self._atomic = True
                self.tmp = self._create_tmp()
                self._fh = self._open_path(self.tmp)
            else:
                self._fh = self._open_path(self.target)
        except OSError as exc:
            self._discard()
            raise self._error(exc) from None
        return self

    def _create_tmp(self) -> str:
        folder, name = os.path.split(self.target)
        for _ in range(100):
            tmp = os.path.join(folder, f"{name}.{secrets.token_hex(3)}.part")
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 & ~_umask())
            except FileExistsError:
                continue
            os.close(fd)
            return tmp
        raise FileExistsError(f"no free temporary name beside {self.target}")

    def _open_path(self, path: str):
        if self.bgzip:
            import pysam  # noqa: PLC0415

            return pysam.BGZFile(path, "wb")
        return open(path, "wb")

    # ---- writing -----------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        try:
            self._fh.write(data)   # type: ignore[union-attr]
        except OSError as exc:
            raise self._failed(exc) from None

    def commit(self, index: Callable[[str], None] | None = None) -> None:
        """Flush and close; move the temporary (and companions) into place.  ``index(path)``
        runs on the complete, closed file before it is renamed (to write companions such as
        ``path + ".tbi"``)."""
        fh, self._fh = self._fh, None
        self._committed = True
        try:
            if self._stdout:
                fh.flush()   # type: ignore[union-attr]
                return
            fh.close()   # type: ignore[union-attr]
            if index is not None:
                index(self.tmp or self.target)
            if self.tmp is None:
                return
            for suffix in INDEX_SUFFIXES:
                if suffix not in self.companions:
                    _remove(self.target + suffix)   # it describes the file we replace
            for suffix in self.companions:
                _remove(self.target + suffix)
            os.replace(self.tmp, self.target)
            self.tmp, tmp = None, self.tmp
            for suffix in self.companions:
                if os.path.exists(tmp + suffix):
                    os.replace(tmp + suffix, self.target + suffix)
        except OSError as exc:
            raise self._failed(exc) from None

    def _failed(self, exc: OSError) -> BaseException:
        self._discard(output_failed=True)
        if isinstance(exc, BrokenPipeError):
            return exc     # the reader of stdout went away (`| head`): not our error
        return self._error(exc)

    def _discard(self, output_failed: bool = False) -> None:
        fh, self._fh = self._fh, None
        if self._stdout:
            try:
                if not output_failed and fh is not None:
                    fh.flush()     # what was read before the error, as streamed
                    return
            except OSError:
                pass
            _silence_stdout()
            return
        if fh is not None:
            try:
                fh.close()
            except OSError:
                pass
        if self.tmp is not None:
            _remove(self.tmp)
            for suffix in self.companions:
                _remove(self.tmp + suffix)
            self.tmp = None

    def _error(self, exc: OSError) -> OutputError:
        where = "to stdout" if self._stdout else self.path
        tail = f"; {self.path} was not written" if self._atomic else ""
        return OutputError(f"cannot write the {self.what} {where}: {_strerror(exc)}{tail}")

    # ---- context manager -----------------------------------------------------------------
    def __enter__(self) -> "AtomicFile":
        return self.open() if self._fh is None else self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            if not self._committed:
                self.commit()
        else:
            self._discard()
