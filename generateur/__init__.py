"""dce : rédaction des dossiers de consultation des entreprises (DCE) responsables par construction."""

from __future__ import annotations

from .donnees.cache import classes_compilees

__version__ = "0.1.0"

classes_compilees()  # avant les classes de données des modules de dce (voir `cache.classes_compilees`)
