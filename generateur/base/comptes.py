"""Comptes et rôles : services, utilisateurs, mots de passe hachés (argon2id), essais de connexion limités.

Rôles : l'acheteur voit les consultations de son service ; le juriste et l'administrateur les voient toutes ;
le juriste vise les clauses et les consultations ; l'administrateur gère comptes et services et lit le journal.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select

from ..erreurs import ErreurDCE, Probleme
from . import journal
from .modeles import ROLES, Consultation, Service, Utilisateur, maintenant

ESSAIS_MAX = 5  # essais manqués d'affilée avant blocage
BLOCAGE = dt.timedelta(minutes=15)
LONGUEUR_MIN = 12
_IDENTIFIANT = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,119}$")
_HACHEUR = PasswordHasher()  # argon2id, paramètres recommandés par la bibliothèque
_LEURRE = _HACHEUR.hash("identifiant inconnu : même durée de vérification")


class ConnexionRefusee(ErreurDCE):
    """Identifiant ou mot de passe faux, compte désactivé ou bloqué : un message qui ne dit pas lequel existe."""


def verifier_mot_de_passe(mot_de_passe: str) -> None:
    if len(mot_de_passe) < LONGUEUR_MIN:
        raise ErreurDCE(Probleme(f"mot de passe trop court : au moins {LONGUEUR_MIN} caractères"))


def service(session: Any, nom: str, qui: str = "", creer: bool = False) -> Service:
    """Le service `nom` ; créé s'il manque et que `creer` est vrai."""
    nom = " ".join(nom.split())
    trouve = session.scalar(select(Service).where(Service.nom == nom))
    if trouve is not None:
        return trouve
    if not creer or not nom:
        raise ErreurDCE(Probleme(f"service inconnu « {nom} »"))
    trouve = Service(nom=nom)
    session.add(trouve)
    session.flush()
    journal.noter(session, qui or "système", "service_ajoute", nom)
    return trouve


def services(session: Any) -> list[Service]:
    return list(session.scalars(select(Service).order_by(Service.nom)))


def ajouter(session: Any, identifiant: str, nom: str, role: str, mot_de_passe: str, nom_service: str | None,
            qui: str = "système") -> Utilisateur:
    """Nouvel utilisateur ; un acheteur appartient à un service (créé au besoin)."""
    identifiant = identifiant.strip().lower()
    problemes = []
    if not _IDENTIFIANT.match(identifiant):
        problemes.append(Probleme(f"identifiant « {identifiant} » invalide : lettres minuscules, chiffres, « . _ @ - », "
                                  "2 à 120 caractères"))
    if role not in ROLES:
        problemes.append(Probleme(f"rôle « {role} » inconnu : {', '.join(ROLES)}"))
    if role == "acheteur" and not nom_service:
        problemes.append(Probleme("un acheteur appartient à un service : le préciser"))
    if session.scalar(select(Utilisateur).where(Utilisateur.identifiant == identifiant)) is not None:
        problemes.append(Probleme(f"l'identifiant « {identifiant} » est déjà pris"))
    try:
        verifier_mot_de_passe(mot_de_passe)
    except ErreurDCE as exc:
        problemes.extend(exc.problemes)
    if problemes:
        raise ErreurDCE(problemes)
    rattache = service(session, nom_service, qui, creer=True) if nom_service else None
    utilisateur = Utilisateur(identifiant=identifiant, nom=" ".join(nom.split()) or identifiant, role=role,
                              service=rattache, mot_de_passe=_HACHEUR.hash(mot_de_passe), actif=True, echecs=0)
    session.add(utilisateur)
    session.flush()
    journal.noter(session, qui, "utilisateur_ajoute", identifiant,
                  f"rôle {role}" + (f", service {rattache.nom}" if rattache else ""))
    return utilisateur


def lister(session: Any) -> list[Utilisateur]:
    return list(session.scalars(select(Utilisateur).order_by(Utilisateur.identifiant)))


def trouver(session: Any, identifiant: str) -> Utilisateur | None:
    return session.scalar(select(Utilisateur).where(Utilisateur.identifiant == identifiant.strip().lower()))


def desactiver(session: Any, identifiant: str, qui: str = "système") -> Utilisateur:
    utilisateur = trouver(session, identifiant)
    if utilisateur is None:
        raise ErreurDCE(Probleme(f"utilisateur inconnu « {identifiant} »"))
    if utilisateur.role == "administrateur" and utilisateur.actif and session.scalar(
            select(func.count()).select_from(Utilisateur).where(Utilisateur.role == "administrateur",
                                                                Utilisateur.actif)) == 1:
        raise ErreurDCE(Probleme(f"« {identifiant} » est le dernier administrateur actif : en ajouter un autre d'abord"))
    utilisateur.actif = False
    journal.noter(session, qui, "utilisateur_desactive", utilisateur.identifiant)
    return utilisateur


def authentifier(session: Any, identifiant: str, mot_de_passe: str, adresse: str = "") -> Utilisateur:
    """L'utilisateur si le mot de passe est juste ; après ESSAIS_MAX échecs d'affilée, le compte est bloqué
    BLOCAGE minutes (même le bon mot de passe est alors refusé). Chaque essai est journalisé."""
    utilisateur = trouver(session, identifiant)
    refus = ConnexionRefusee(Probleme("identifiant ou mot de passe incorrect"))
    origine = f"depuis {adresse}" if adresse else ""
    if utilisateur is None:
        try:
            _HACHEUR.verify(_LEURRE, mot_de_passe)
        except VerificationError:
            pass
        journal.noter(session, identifiant[:120] or "(vide)", "connexion_refusee", "", f"identifiant inconnu {origine}")
        raise refus
    heure = maintenant()
    if utilisateur.bloque_jusqua is not None and utilisateur.bloque_jusqua > heure:
        journal.noter(session, utilisateur.identifiant, "connexion_refusee", "", f"compte bloqué {origine}")
        raise ConnexionRefusee(Probleme(
            f"trop d'essais manqués : compte bloqué jusqu'à {utilisateur.bloque_jusqua:%H:%M} (UTC) ; réessayer plus tard"))
    try:
        _HACHEUR.verify(utilisateur.mot_de_passe, mot_de_passe)
        juste = True
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        juste = False
    if not juste or not utilisateur.actif:
        if not juste:
            utilisateur.echecs += 1
            if utilisateur.echecs >= ESSAIS_MAX:
                utilisateur.bloque_jusqua = heure + BLOCAGE
                utilisateur.echecs = 0
        journal.noter(session, utilisateur.identifiant, "connexion_refusee", "",
                      ("mot de passe faux " if juste is False else "compte désactivé ") + origine)
        raise refus
    utilisateur.echecs = 0
    utilisateur.bloque_jusqua = None
    if _HACHEUR.check_needs_rehash(utilisateur.mot_de_passe):
        utilisateur.mot_de_passe = _HACHEUR.hash(mot_de_passe)
    journal.noter(session, utilisateur.identifiant, "connexion", "", origine)
    return utilisateur


def voit_tout(utilisateur: Utilisateur) -> bool:
    return utilisateur.role in ("juriste", "administrateur")


def peut_voir(utilisateur: Utilisateur, consultation: Consultation) -> bool:
    """Une consultation est visible des membres de son service, des juristes et des administrateurs."""
    return voit_tout(utilisateur) or (utilisateur.service_id is not None
                                      and utilisateur.service_id == consultation.service_id)
