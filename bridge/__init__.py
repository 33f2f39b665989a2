"""govbridge: moves cases between a service center, bureau OAs and the portal."""

__version__ = "0.1.0"

INTERCHANGE_NS = "urn:govbridge:interchange:1"
