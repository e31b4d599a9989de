"""Journal d'audit : qui, quand, quoi, sur quoi ; consultable par l'administrateur et exportable en CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import select

from .modeles import Audit

ACTIONS = {
    "connexion": "connexion", "connexion_refusee": "connexion refusée", "deconnexion": "déconnexion",
    "creation": "création", "modification": "modification", "duplication": "duplication", "import": "import",
    "generation": "génération", "publication": "publication", "publication_refusee": "publication refusée",
    "visa_clause": "visa d'une clause", "visa_consultation": "visa d'une consultation",
    "utilisateur_ajoute": "utilisateur ajouté", "utilisateur_desactive": "utilisateur désactivé",
    "service_ajoute": "service ajouté", "fichier_depose": "fichier joint déposé", "fichier_retire": "fichier joint retiré",
}


def noter(session: Any, qui: str, action: str, objet: str = "", detail: str = "") -> None:
    """Ajoute une ligne au journal dans la transaction en cours (elle n'existe que si l'action aboutit)."""
    if action not in ACTIONS:
        raise ValueError(action)
    session.add(Audit(qui=qui, action=action, objet=objet[:255], detail=detail))


def lister(session: Any, limite: int = 500) -> list[Audit]:
    """Les dernières lignes, la plus récente d'abord."""
    return list(session.scalars(select(Audit).order_by(Audit.id.desc()).limit(limite)))


def exporter_csv(session: Any) -> bytes:
    """Tout le journal en CSV (UTF-8 avec BOM, point-virgule : s'ouvre tel quel dans un tableur français)."""
    tampon = io.StringIO()
    ecrivain = csv.writer(tampon, delimiter=";", lineterminator="\r\n")
    ecrivain.writerow(["date (UTC)", "utilisateur", "action", "objet", "détail"])
    for ligne in session.scalars(select(Audit).order_by(Audit.id)):
        ecrivain.writerow([ligne.le.isoformat(sep=" "), ligne.qui, ACTIONS.get(ligne.action, ligne.action),
                           ligne.objet, ligne.detail])
    return ("\ufeff" + tampon.getvalue()).encode("utf-8")
