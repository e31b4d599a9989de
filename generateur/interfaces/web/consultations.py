"""Le dossier de consultations vu par l'application web : liste, brouillons, nouvelle version, archive zip.

La disposition du dossier est celle de la régénération en lot (`generateur/lot/regeneration.py`) : un
sous-dossier par consultation avec `reponses.yaml`, `courante` et `versions/NNN/`. Les consultations en
cours de saisie sont des fichiers de réponses dans `.brouillons/`, dossier caché que la régénération ignore.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import secrets
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from filelock import FileLock

from ...lot import index, regeneration
from ...donnees import yaml_lignes
from ...donnees.fichiers import DATE_ZIP, ecrire_atomique, erreur_systeme
from ...erreurs import ErreurDCE, ErreurDonnees, Probleme
from ...donnees.fichiers import nom_sur
from ...lot.rapport_changements import RapportConsultation, lire_manifeste

BROUILLONS = ".brouillons"
_IDENT = re.compile(r"^[0-9a-f]{16}$")


@dataclass
class Fiche:
    """Une consultation du dossier, telle que la liste l'affiche."""

    nom: str
    dossier: Path
    reference: str
    objet: str
    lots: int
    version: str | None
    generee_le: dt.datetime | None
    statut: str
    niveau: str  # conforme | a_verifier | non_conforme | inconnu : classe CSS et icône textuelle
    manifeste: dict[str, Any] | None = None

    @property
    def dossier_version(self) -> Path | None:
        return self.dossier / regeneration.VERSIONS / self.version if self.version else None


def statut_conformite(manifeste: dict[str, Any] | None) -> tuple[str, str]:
    """Résumé des contrôles juridiques enregistré par la dernière génération (manifeste, clé `conformite`)."""
    resume = (manifeste or {}).get("conformite")
    if not resume:
        return ("Jamais générée" if manifeste is None else "Contrôles non enregistrés"), "inconnu"
    bloquants = len(resume.get("obligations_non_respectees") or [])
    a_verifier = len(resume.get("controles_a_verifier") or [])
    if bloquants:
        return (f"{bloquants} obligation{'s' if bloquants > 1 else ''} légale{'s' if bloquants > 1 else ''} "
                f"non respectée{'s' if bloquants > 1 else ''}"), "non_conforme"
    if a_verifier:
        return f"À vérifier\u00a0: {a_verifier} point{'s' if a_verifier > 1 else ''}", "a_verifier"
    return f"Conforme ({resume.get('controles', 0)} contrôles)", "conforme"


def _depuis_index(consultation: Path, nom: str, e: dict[str, Any], manifeste: dict[str, Any] | None = None) -> Fiche:
    statut, niveau = statut_conformite(None if e["conformite"] is None else {"conformite": e["conformite"]})
    return Fiche(nom, consultation, e["reference"], e["objet"], e["lots"], e["version"], index.date(e), statut, niveau,
                 manifeste)


def _fiche(dossier: Path, consultation: Path) -> Fiche:
    """Une consultation, avec le manifeste de sa version en vigueur (page de la consultation)."""
    nom = consultation.relative_to(dossier).as_posix()
    try:
        version = regeneration.version_courante(consultation)
    except ErreurDCE:
        version = None
    manifeste = lire_manifeste(consultation / regeneration.VERSIONS / version) if version else None
    return _depuis_index(consultation, nom, index.entree(consultation, nom, manifeste), manifeste)


def date_droit(fiche: Fiche) -> dt.date | None:
    """Droit appliqué à la version en vigueur, s'il a été choisi expressément (comme la régénération)."""
    return regeneration.droit_enregistre(fiche.manifeste)


def lister(dossier: Path) -> list[Fiche]:
    """Consultations du dossier (celles qui ont un fichier de réponses), par référence."""
    if not dossier.is_dir():
        return []
    consultations = regeneration.decouvrir(dossier)
    entrees = index.lire(dossier, consultations)  # l'index du dossier : ni réponses ni manifestes relus
    fiches = (_depuis_index(c, nom, entrees[nom]) for c in consultations for nom in [c.relative_to(dossier).as_posix()])
    return sorted(fiches, key=lambda f: f.reference.casefold())


def trouver(dossier: Path, nom: str) -> Fiche | None:
    """La consultation `nom` si elle fait partie du dossier (jamais un chemin arbitraire)."""
    for consultation in regeneration.decouvrir(dossier) if dossier.is_dir() else []:
        if consultation.relative_to(dossier).as_posix() == nom:
            return _fiche(dossier, consultation)
    return None


def _reference(consultation: Path) -> str | None:
    """Référence inscrite dans le fichier de réponses d'un sous-dossier ; None s'il n'en a pas."""
    chemin = consultation / regeneration.REPONSES
    if not chemin.is_file():
        return None
    try:
        donnees = yaml_lignes.lire(chemin).donnees
    except ErreurDonnees:
        return ""  # illisible : le dossier est pris, mais par aucune référence connue
    return str(donnees.get("reference")) if isinstance(donnees, dict) else ""


def nom_dossier(dossier: Path, reference: str) -> str:
    """Sous-dossier d'une consultation : celui qui porte déjà cette référence, sinon un nom libre.

    Le nom vient de la référence (`nom_sur`) ; deux références distinctes qui donnent le même nom (« 2027 LYCEE
    01 » et « 2027/LYCEE/01 ») ne partagent jamais un dossier : la seconde reçoit un suffixe (« -2 », « -3 »…).
    Jamais un nom réservé du dossier de consultations.
    """
    base = nom_sur(reference)
    base = f"consultation-{base}" if base in (regeneration.VERSIONS, regeneration.RAPPORTS) else base
    libre = None
    for n in range(1, 1000):
        nom = base if n == 1 else f"{base}-{n}"
        deja = _reference(dossier / nom)
        if deja == reference:
            return nom
        if deja is None and libre is None:
            libre = nom
    if libre is None:
        raise ErreurDCE(Probleme(f"trop de consultations aux références voisines de « {reference} »", dossier))
    return libre


def generer(dossier: Path, texte_reponses: str, reference: str, racine: Path) -> tuple[str, RapportConsultation]:
    """Enregistre les réponses dans la consultation et en produit une nouvelle version (versions/NNN).

    Même chemin que la régénération en lot : une consultation dont les documents ne changent pas ne reçoit
    pas de nouvelle version ; un échec laisse la version précédente en vigueur. Les générations simultanées
    attendent leur tour (verrou du dossier, au plus `regeneration.ATTENTE_WEB` secondes).
    """
    try:
        dossier.mkdir(parents=True, exist_ok=True)
        with regeneration.verrou(dossier, attente=regeneration.ATTENTE_WEB):
            nom = nom_dossier(dossier, reference)
            consultation = dossier / nom
            ecrire_atomique(consultation / regeneration.REPONSES, texte_reponses.encode("utf-8"))
            with tempfile.TemporaryDirectory(prefix="dce-web-") as rapport:
                tache = regeneration.Tache(str(consultation), nom, str(racine), rapport,
                                           regeneration.empreinte_catalogue(racine))
                rapport = regeneration.traiter(tache)
                if rapport.fiche is not None:
                    index.enregistrer(dossier, {nom: rapport.fiche})
                return nom, rapport
    except OSError as exc:  # droits, disque plein… : en français, avec le chemin
        raise erreur_systeme(exc, action="écriture impossible dans le dossier de consultations") from None


def archive(fiche: Fiche, reponses_yaml: str | None) -> tuple[str, bytes]:
    """Zip reproductible de la version en vigueur : pièces, annexes, manifeste et fichier de réponses."""
    dossier = fiche.dossier_version
    if dossier is None:
        raise ErreurDCE(Probleme("cette consultation n'a pas encore été générée", fiche.dossier))
    base = nom_sur(fiche.reference)
    tampon = io.BytesIO()
    with zipfile.ZipFile(tampon, "w", zipfile.ZIP_DEFLATED) as z:
        contenus = {p.name: p.read_bytes() for p in sorted(dossier.iterdir()) if p.is_file()}
        if reponses_yaml is not None:
            contenus[f"{base}-reponses.yaml"] = reponses_yaml.encode("utf-8")
        for nom, contenu in sorted(contenus.items()):
            info = zipfile.ZipInfo(nom, DATE_ZIP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, contenu)
    return f"{base}-DCE-v{fiche.version}.zip", tampon.getvalue()


class VersionDepassee(Exception):
    """Enregistrement préparé sur une version du brouillon qu'un autre onglet a remplacée depuis."""

    def __init__(self, lue: int, actuelle: int):
        super().__init__(f"version {lue} dépassée par la version {actuelle}")
        self.lue = lue
        self.actuelle = actuelle


_ENTETE_VERSION = re.compile(r"^# dce : brouillon, version (\d+)$")


class Brouillons:
    """Consultations en cours de saisie : un fichier de réponses (peut-être incomplet) par identifiant.

    Chaque brouillon porte un numéro de version (première ligne, en commentaire YAML) augmenté à chaque
    enregistrement. Une page envoie la version qu'elle a affichée : si un autre onglet a enregistré depuis,
    l'enregistrement est refusé (`VersionDepassee`) au lieu d'écraser ses réponses. La comparaison et
    l'écriture se font sous un verrou de fichier portable (filelock).
    """

    def __init__(self, dossier: Path):
        self.dossier = dossier / BROUILLONS

    def chemin(self, ident: str) -> Path | None:
        chemin = self.dossier / f"{ident}.yaml"
        return chemin if _IDENT.match(ident) and chemin.is_file() else None

    def creer(self, donnees: dict[str, Any]) -> str:
        ident = secrets.token_hex(8)
        self.ecrire(ident, donnees)
        return ident

    def lire(self, ident: str) -> dict[str, Any] | None:
        lu = self.lire_versionne(ident)
        return None if lu is None else lu[0]

    def lire_versionne(self, ident: str) -> tuple[dict[str, Any], int] | None:
        """(réponses, numéro de version) du brouillon ; None s'il n'existe pas."""
        chemin = self.chemin(ident)
        if chemin is None:
            return None
        texte = chemin.read_text(encoding="utf-8")
        donnees = yaml_lignes.lire_texte(texte, chemin.name).donnees
        return (donnees if isinstance(donnees, dict) else {}), _version(texte)

    def version(self, ident: str) -> int:
        chemin = self.chemin(ident)
        return _version(chemin.read_text(encoding="utf-8")) if chemin else 0

    def ecrire(self, ident: str, donnees: dict[str, Any], version_lue: int | None = None) -> int:
        """Réponses en cours, telles quelles (même invalides) : le fichier définitif est écrit par l'assistant.

        `version_lue` : version sur laquelle la page a été préparée ; si le brouillon a changé depuis, rien n'est
        écrit et `VersionDepassee` est levée. Renvoie la nouvelle version.
        """
        if not _IDENT.match(ident):
            raise ValueError(ident)
        self.dossier.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.dossier / ".verrou")):
            actuelle = self.version(ident)
            if version_lue is not None and version_lue != actuelle:
                raise VersionDepassee(version_lue, actuelle)
            texte = yaml.safe_dump(donnees, allow_unicode=True, sort_keys=False, default_flow_style=False)
            ecrire_atomique(self.dossier / f"{ident}.yaml",
                            f"# dce : brouillon, version {actuelle + 1}\n{texte}".encode("utf-8"))
        return actuelle + 1

    def supprimer(self, ident: str) -> None:
        chemin = self.chemin(ident)
        if chemin is not None:
            chemin.unlink()

    def lister(self) -> list[tuple[str, dict[str, Any], dt.datetime]]:
        """(identifiant, réponses, dernière modification), le plus récent d'abord."""
        resultat = []
        for chemin in self.dossier.glob("*.yaml") if self.dossier.is_dir() else []:
            if not _IDENT.match(chemin.stem):
                continue
            try:
                donnees = yaml_lignes.lire(chemin).donnees
            except ErreurDonnees:
                continue
            resultat.append((chemin.stem, donnees if isinstance(donnees, dict) else {},
                             dt.datetime.fromtimestamp(chemin.stat().st_mtime)))
        return sorted(resultat, key=lambda t: t[2], reverse=True)


def _version(texte: str) -> int:
    """Numéro de version inscrit en première ligne d'un brouillon (0 pour un brouillon d'avant les versions)."""
    trouve = _ENTETE_VERSION.match(texte.partition("\n")[0])
    return int(trouve.group(1)) if trouve else 0
