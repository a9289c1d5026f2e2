"""Error classes of hail-seqscore.

Every error is a subclass of a builtin (so ``except ValueError`` keeps working) and of
:class:`SeqScoreError`, and carries a stable ``code``.  The code is what the daemon puts in a
per-variant ``error``, what Hail stores as the reason a row was not scored, and what the CLI
counts in its summary; ``http_status`` and ``exit_code`` say how the front ends report it.
"""

from __future__ import annotations


class SeqScoreError(Exception):
    """Base class: ``code`` is stable and machine readable, the message is for people."""

    code = "SEQSCORE_ERROR"
    http_status = 500
    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __reduce__(self):  # picklable across Spark / multiprocessing boundaries
        return (self.__class__, (self.message,))


# ---- variant level: one bad variant never sinks a batch -------------------------------------
class InvalidVariantError(SeqScoreError, ValueError):
    code = "INVALID_VARIANT"
    http_status = 400
    exit_code = 65


class ContigNotFoundError(SeqScoreError, KeyError):
    code = "CONTIG_NOT_FOUND"
    http_status = 404
    exit_code = 65

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.message


class RefMismatchError(SeqScoreError, ValueError):
    code = "REF_MISMATCH"
    http_status = 422
    exit_code = 65


class NearContigEndError(SeqScoreError, IndexError):
    code = "NEAR_CONTIG_END"
    http_status = 422
    exit_code = 65


class RefTooLongError(SeqScoreError, ValueError):
    code = "REF_TOO_LONG"
    http_status = 422
    exit_code = 65


class AlleleTooLongError(SeqScoreError, ValueError):
    """REF or ALT longer than the engine's cap (``EngineConfig.max_allele_length``): bounded
    work per variant, so one 100-kb insertion cannot take gigabytes."""

    code = "ALLELE_TOO_LONG"
    http_status = 422
    exit_code = 65


class UnsupportedVariantError(SeqScoreError, ValueError):
    """Symbolic, ``*``/``.`` or (in parity mode) MNV/complex alleles."""

    code = "UNSUPPORTED_VARIANT"
    http_status = 422
    exit_code = 65


class NoGeneError(SeqScoreError, LookupError):
    """The variant lies in no annotated gene, so SpliceAI writes no score for it."""

    code = "NO_GENE"
    http_status = 200
    exit_code = 0


# ---- input files ------------------------------------------------------------------------------
class InputFormatError(SeqScoreError, ValueError):
    """A malformed input file (VCF, FASTA, gene table, GTF); the message names the line."""

    code = "INPUT_FORMAT"
    http_status = 400
    exit_code = 65


class AnnotationError(InputFormatError):
    code = "ANNOTATION_FORMAT"


class ReferenceUnavailableError(SeqScoreError, OSError):
    """The reference FASTA cannot be opened or indexed."""

    code = "REFERENCE_UNAVAILABLE"
    http_status = 500
    exit_code = 66


class ReferenceFormatError(InputFormatError):
    """The reference exists but is not a FASTA (or is plain gzip, which cannot be indexed)."""

    code = "REFERENCE_FORMAT"
    http_status = 500


class InputUnreadableError(SeqScoreError, OSError):
    """An input file (VCF, gene table, token, BED) is missing, a directory or unreadable."""

    code = "INPUT_UNREADABLE"
    http_status = 500
    exit_code = 66


# ---- outputs ----------------------------------------------------------------------------------
class OutputError(SeqScoreError, OSError):
    """The output cannot be written (disk full, permission, a closed pipe); nothing that looks
    complete is left behind."""

    code = "OUTPUT_ERROR"
    http_status = 500
    exit_code = 74      # EX_IOERR (sysexits.h)


class OutputIsInputError(SeqScoreError, ValueError):
    """The output path names the input file (same path, a link to it, or the same inode)."""

    code = "OUTPUT_IS_INPUT"
    http_status = 400
    exit_code = 64


# ---- models -----------------------------------------------------------------------------------
class UnknownModelError(SeqScoreError, KeyError):
    code = "UNKNOWN_MODEL"
    http_status = 404
    exit_code = 64

    def __str__(self) -> str:
        return self.message


class ModelNotInstalledError(SeqScoreError, FileNotFoundError):
    code = "MODEL_NOT_INSTALLED"
    http_status = 503
    exit_code = 69


class ModelFormatError(SeqScoreError, ValueError):
    """An ONNX file whose metadata lacks what the runtime needs."""

    code = "MODEL_FORMAT"
    http_status = 500
    exit_code = 65


class WeightChecksumError(SeqScoreError, ValueError):
    code = "WEIGHT_CHECKSUM"
    http_status = 500
    exit_code = 65


class WeightMappingError(SeqScoreError, ValueError):
    code = "WEIGHT_MAPPING"
    http_status = 500
    exit_code = 65


class NetworkUnavailableError(SeqScoreError, ConnectionError):
    code = "NETWORK_UNAVAILABLE"
    http_status = 503
    exit_code = 69


class RuntimeUnavailableError(SeqScoreError, RuntimeError):
    """ONNX Runtime is missing or broken (none or both of onnxruntime and onnxruntime-gpu
    installed), or the device asked for cannot run: ``--device cuda`` without the CUDA
    execution provider, or with one that could not be created (driver, CUDA or cuDNN
    missing).  The message says how to fix it."""

    code = "RUNTIME_UNAVAILABLE"
    http_status = 503
    exit_code = 69      # EX_UNAVAILABLE (sysexits.h)


# ---- usage ------------------------------------------------------------------------------------
class ConfigError(SeqScoreError, ValueError):
    """A bad setting (distance out of range, batch size of zero, …)."""

    code = "CONFIG"
    http_status = 400
    exit_code = 64


class CacheProvenanceError(ConfigError):
    """A score cache made with another model, annotation, reference or settings."""

    code = "CACHE_PROVENANCE"
    http_status = 409


# ---- the scoring daemon and its client --------------------------------------------------------
class RequestError(SeqScoreError, ValueError):
    """A malformed daemon request (body, JSON or field); ``field`` names the offending one."""

    code = "BAD_REQUEST"
    http_status = 400
    exit_code = 64

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field

    def __reduce__(self):
        return (self.__class__, (self.message, self.field))


class PayloadTooLargeError(RequestError):
    code = "PAYLOAD_TOO_LARGE"
    http_status = 413


class UnauthorizedError(SeqScoreError, PermissionError):
    """A missing or wrong bearer token."""

    code = "UNAUTHORIZED"
    http_status = 401
    exit_code = 77


class ServiceBusyError(SeqScoreError, ConnectionError):
    """The daemon's queue is full or its model is still loading; retry later."""

    code = "BUSY"
    http_status = 503
    exit_code = 69


class UnsupportedMediaTypeError(RequestError):
    """A daemon request whose Content-Type is not JSON (or is missing)."""

    code = "UNSUPPORTED_MEDIA_TYPE"
    http_status = 415


class RequestTimeoutError(RequestError):
    """A daemon request whose headers or body did not arrive within the server's timeout."""

    code = "REQUEST_TIMEOUT"
    http_status = 408


ERROR_CLASSES = {
    cls.code: cls
    for cls in (
        SeqScoreError, InvalidVariantError, ContigNotFoundError, RefMismatchError,
        NearContigEndError, RefTooLongError, AlleleTooLongError, UnsupportedVariantError,
        NoGeneError, InputFormatError, AnnotationError, ReferenceUnavailableError,
        ReferenceFormatError, InputUnreadableError, OutputError, OutputIsInputError,
        UnknownModelError,
        ModelNotInstalledError, ModelFormatError, WeightChecksumError, WeightMappingError,
        NetworkUnavailableError, RuntimeUnavailableError, ConfigError, CacheProvenanceError, RequestError,
        PayloadTooLargeError, UnauthorizedError, ServiceBusyError,
        UnsupportedMediaTypeError, RequestTimeoutError,
    )
}


def error_from_code(code: str, message: str) -> SeqScoreError:
    """Rebuild an error from its wire form (daemon responses, Hail reason fields)."""
    return ERROR_CLASSES.get(code, SeqScoreError)(message)
