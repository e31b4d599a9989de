"""Les consultations en base : création, lecture selon le service, enregistrement sous verrou optimiste,
duplication, historique des versions des réponses et différences entre deux versions.

Chaque enregistrement porte le numéro de la version lue par l'utilisateur ; si quelqu'un a enregistré entre-temps,
l'enregistrement est refusé (`Conflit`) avec ce qui a changé, par qui et quand : rien n'est écrasé sans le savoir.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from ..erreurs import ErreurDCE, Probleme
from . import journal
from .comptes import peut_voir, voit_tout
from .modeles import Consultation, FichierJoint, Utilisateur, VersionReponses, maintenant

Libelles = Callable[[str], str]


@dataclass
class Changement:
    """Une réponse qui diffère entre deux versions (chemin pointé, libellé du questionnaire, valeurs)."""

    chemin: str
    libelle: str
    avant: Any
    apres: Any


@dataclass
class Auteur:
    numero: int
    nom: str
    le: Any
    action: str


class Conflit(ErreurDCE):
    """Enregistrement sur une version dépassée : ce qui a changé depuis, et qui l'a changé."""

    def __init__(self, lue: int, courante: int, changements: list[Changement], auteurs: list[Auteur]):
        self.lue, self.courante, self.changements, self.auteurs = lue, courante, changements, auteurs
        qui = ", ".join(sorted({a.nom for a in auteurs})) or "un autre utilisateur"
        super().__init__(Probleme(
            f"enregistrement refusé : la consultation a été modifiée par {qui} depuis que vous l'avez ouverte "
            f"(version {lue} ouverte, version {courante} enregistrée) ; rien n'a été écrasé"))


class Introuvable(ErreurDCE):
    """Consultation inexistante ou hors de la vue de l'utilisateur (même réponse : on ne révèle pas qu'elle existe)."""


def en_json(valeur: Any) -> Any:
    """Réponses rangeables en JSON : une date lue dans un YAML devient le texte que le formulaire aurait envoyé."""
    if isinstance(valeur, dict):
        return {str(k): en_json(v) for k, v in valeur.items()}
    if isinstance(valeur, list):
        return [en_json(v) for v in valeur]
    if isinstance(valeur, dt.datetime):
        return valeur.strftime("%Y-%m-%d %H:%M")
    if isinstance(valeur, dt.date):
        return valeur.isoformat()
    return valeur


def _resume(donnees: dict[str, Any]) -> tuple[str, str]:
    return str(donnees.get("reference") or ""), " ".join(str(donnees.get("objet") or "").split())


def creer(session: Any, utilisateur: Utilisateur, donnees: dict[str, Any], service_id: int | None = None,
          action: str = "creation", detail: str = "") -> Consultation:
    """Nouvelle consultation du service de l'utilisateur (ou du service donné, pour un juriste ou un administrateur)."""
    service_id = service_id if service_id is not None and voit_tout(utilisateur) else utilisateur.service_id
    if service_id is None:
        raise ErreurDCE(Probleme("rattacher d'abord ce compte à un service : une consultation appartient à un service"))
    donnees = en_json(donnees)
    reference, objet = _resume(donnees)
    consultation = Consultation(reference=reference, objet=objet, service_id=service_id, reponses=copy.deepcopy(donnees),
                                cree_par_id=utilisateur.id, modifie_par_id=utilisateur.id)
    session.add(consultation)
    session.flush()
    session.add(VersionReponses(consultation_id=consultation.id, numero=consultation.numero_version,
                                reponses=copy.deepcopy(donnees), auteur_id=utilisateur.id, action=action))
    journal.noter(session, utilisateur.identifiant, action, _objet(consultation), detail)
    return consultation


def _objet(consultation: Consultation) -> str:
    return f"consultation {consultation.id}" + (f" ({consultation.reference})" if consultation.reference else "")


def lire(session: Any, utilisateur: Utilisateur, ident: int) -> Consultation:
    consultation = session.get(Consultation, ident)
    if consultation is None or not peut_voir(utilisateur, consultation):
        raise Introuvable(Probleme(f"consultation {ident} introuvable"))
    return consultation


def lister(session: Any, utilisateur: Utilisateur) -> list[Consultation]:
    """Consultations visibles par l'utilisateur, la dernière modifiée d'abord."""
    requete = select(Consultation).order_by(Consultation.modifie_le.desc(), Consultation.id.desc())
    if not voit_tout(utilisateur):
        requete = requete.where(Consultation.service_id == utilisateur.service_id)
    return list(session.scalars(requete))


def version(session: Any, consultation: Consultation, numero: int) -> VersionReponses | None:
    return session.scalar(select(VersionReponses).where(VersionReponses.consultation_id == consultation.id,
                                                        VersionReponses.numero == numero))


def historique(session: Any, consultation: Consultation) -> list[VersionReponses]:
    return list(session.scalars(select(VersionReponses).where(VersionReponses.consultation_id == consultation.id)
                                .order_by(VersionReponses.numero.desc())))


def _aplatir(valeur: Any, chemin: str = "") -> dict[str, Any]:
    if isinstance(valeur, dict):
        resultat: dict[str, Any] = {}
        for cle, sous in valeur.items():
            resultat.update(_aplatir(sous, f"{chemin}.{cle}" if chemin else str(cle)))
        return resultat or ({chemin: {}} if chemin else {})
    if isinstance(valeur, list) and any(isinstance(e, (dict, list)) for e in valeur):
        resultat = {}
        for i, sous in enumerate(valeur):
            resultat.update(_aplatir(sous, f"{chemin}.{i}"))
        return resultat
    return {chemin: valeur}


def differences(avant: dict[str, Any], apres: dict[str, Any], libelles: Libelles) -> list[Changement]:
    """Réponses ajoutées, retirées ou modifiées, dans l'ordre des chemins."""
    a, b = _aplatir(avant), _aplatir(apres)
    return [Changement(c, libelles(c), a.get(c), b.get(c)) for c in sorted(set(a) | set(b), key=_cle_chemin)
            if a.get(c) != b.get(c)]


def _cle_chemin(chemin: str) -> list[tuple[int, Any]]:
    return [(0, int(p)) if p.isdigit() else (1, p) for p in chemin.split(".")]


def enregistrer(session: Any, utilisateur: Utilisateur, consultation: Consultation, donnees: dict[str, Any],
                version_lue: int, libelles: Libelles, action: str = "modification") -> Consultation:
    """Enregistre les réponses si `version_lue` est la version en base ; sinon `Conflit`.

    Deux contrôles : le numéro envoyé par le formulaire, puis la clause WHERE du numéro de version
    (SQLAlchemy `version_id_col`) qui écarte l'enregistrement concurrent validé entre la lecture et l'écriture.
    `action` « fichier » (un fichier joint déposé ou retiré, `fichiers.py`) : nouvelle version même si les réponses
    n'ont pas changé, inscrite au journal par l'appelant.
    """
    if version_lue != consultation.numero_version:
        raise conflit(session, consultation, version_lue, libelles)
    donnees = en_json(donnees)
    if donnees == consultation.reponses and action == "modification":
        return consultation
    consultation.reponses = copy.deepcopy(donnees)
    flag_modified(consultation, "reponses")  # même inchangées, le numéro de version avance
    consultation.reference, consultation.objet = _resume(donnees)
    consultation.modifie_par_id = utilisateur.id
    consultation.modifie_le = maintenant()
    try:
        session.flush()
    except StaleDataError:
        session.rollback()
        consultation = session.get(Consultation, consultation.id, populate_existing=True)
        raise conflit(session, consultation, version_lue, libelles) from None
    session.add(VersionReponses(consultation_id=consultation.id, numero=consultation.numero_version,
                                reponses=copy.deepcopy(donnees), auteur_id=utilisateur.id, action=action))
    if action == "modification":
        journal.noter(session, utilisateur.identifiant, "modification", _objet(consultation),
                      f"version {consultation.numero_version}")
    return consultation


def conflit(session: Any, consultation: Consultation, version_lue: int, libelles: Libelles) -> Conflit:
    lue = version(session, consultation, version_lue)
    changements = differences(lue.reponses if lue else {}, consultation.reponses, libelles)
    auteurs = [Auteur(v.numero, v.auteur.nom if v.auteur else "inconnu", v.le, v.action)
               for v in historique(session, consultation) if v.numero > version_lue]
    return Conflit(version_lue, consultation.numero_version, changements, auteurs)


def dupliquer(session: Any, utilisateur: Utilisateur, consultation: Consultation) -> Consultation:
    """Copie des réponses en cours et des fichiers joints dans une nouvelle consultation du même service ; la
    référence reçoit le suffixe « -copie » pour ne pas confondre les deux."""
    donnees = copy.deepcopy(consultation.reponses)
    if donnees.get("reference"):
        donnees["reference"] = f"{donnees['reference']}-copie"
    copie = creer(session, utilisateur, donnees, consultation.service_id, action="duplication",
                  detail=f"copie de {_objet(consultation)}")
    for f in session.scalars(select(FichierJoint).where(FichierJoint.consultation_id == consultation.id)):
        session.add(FichierJoint.de(copie.id, f.nom, f.contenu, f.depose_par_id, f.depose_le))
    session.flush()
    return copie
