"""The project's typed errors. Library code raises these; only the CLI and UI turn them into messages."""


class RagError(Exception):
    """Base class: every error the library raises on purpose. ``str(err)`` is a one-line user message."""


class CorpusError(RagError):
    """A source file or manifest cannot be read or parsed at all."""


class ConfigError(RagError):
    """A setting or argument has an impossible value."""


class FilterError(ConfigError):
    """A retrieval filter names an unknown field or an impossible value."""


class IndexStateError(RagError):
    """The index is missing, damaged or incompatible."""


class IndexDamagedError(IndexStateError):
    """The embedded index cannot be opened (damaged files); ``rag index --full`` moves it aside and rebuilds."""


class DiskFullError(IndexStateError):
    """The disk holding the embedded index is full: it cannot be read or written until space is freed (nothing is lost)."""


class IndexBusyError(IndexStateError):
    """Another process is updating the index."""


class IndexWriteError(IndexStateError):
    """Writing to the index failed part-way (disk full, permissions); what was there stays usable."""


class ModelMismatchError(IndexStateError):
    """The index was built with another embedding model than the one configured."""


class GeneratorError(RagError):
    """The language model backend failed (server down, bad answer, model file missing)."""


class StoreUnavailableError(RagError):
    """The vector store (for example a Chroma server) cannot be reached."""


class EmbedderError(RagError):
    """The embedding backend failed (for example an embeddings server that is down or misconfigured)."""
