"""dce : rédaction des dossiers de consultation des entreprises (DCE) responsables par construction."""

from __future__ import annotations

__version__ = "0.1.0"
