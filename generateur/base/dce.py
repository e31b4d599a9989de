"""Le DCE d'une consultation en base : génération (pièces rangées par empreinte dans le dossier de stockage),
visa juridique (d'une version de clause, d'une consultation) et publication.

La génération part des réponses et des fichiers joints de la consultation (`fichiers.materialiser` : un dossier
temporaire privé où les chemins relatifs des réponses se résolvent comme en local) ; la publication ajoute au DCE
les pièces jointes par l'acheteur, sous leur nom publié, comme `dce publier`.

Une consultation qui retient une clause `partiel`/`non_verifie` non validée par un juriste ne se publie qu'après
le visa d'un juriste sur la version des réponses publiée ; la publication refait le DCE avec ce visa, qui est
alors tracé dans l'annexe de conformité (qui, quand, commentaire, validation de chaque clause).
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ..droit.explication import clauses_a_valider
from ..droit.regles import preparer
from ..donnees import catalogue as module_catalogue
from ..donnees.formats import date_heure
from ..erreurs import ErreurDCE, Probleme
from ..rendu.generation import produire_dce
from ..rendu.publication import lire_pieces_jointes
from . import fichiers, journal
from .depot import _objet
from .modeles import Consultation, Generation, Piece, Utilisateur, VisaClause, VisaConsultation, maintenant


class PublicationRefusee(ErreurDCE):
    """Clause non validée sans visa du juriste sur la consultation, ou DCE pas à jour."""


class Stockage:
    """Dossier des fichiers produits : un fichier par empreinte SHA-256 (ab/abcdef…), écrit une seule fois."""

    def __init__(self, dossier: Path):
        self.dossier = Path(dossier)

    def chemin(self, empreinte: str) -> Path:
        if len(empreinte) != 64 or any(c not in "0123456789abcdef" for c in empreinte):
            raise ValueError(empreinte)
        return self.dossier / empreinte[:2] / empreinte

    def ranger(self, contenu: bytes) -> str:
        empreinte = hashlib.sha256(contenu).hexdigest()
        chemin = self.chemin(empreinte)
        if not chemin.is_file():
            chemin.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=chemin.parent, delete=False) as temporaire:
                temporaire.write(contenu)
            Path(temporaire.name).replace(chemin)
        return empreinte

    def lire(self, piece: Piece) -> bytes:
        contenu = self.chemin(piece.empreinte).read_bytes()
        if hashlib.sha256(contenu).hexdigest() != piece.empreinte:
            raise ErreurDCE(Probleme(f"fichier stocké altéré : {piece.nom} (empreinte différente de celle de la base)"))
        return contenu


def exiger_fichiers(session: Any, consultation: Consultation, pour_publier: bool = False) -> None:
    """Un texte technique du CCTP absent de la base arrête la génération ; pour publier, toute pièce jointe
    absente aussi (comme `dce generer` et `dce publier` en local) ; le message dit où la téléverser."""
    absents = [d for d in fichiers.manquants(session, consultation) if pour_publier or d.texte_technique]
    if absents:
        raise ErreurDCE([Probleme(f"{d.quoi} : fichier « {d.nom} » absent de la consultation ; le téléverser dans "
                                  "« Fichiers joints » de la fiche de la consultation") for d in absents])


def _produire(session: Any, consultation: Consultation, texte_reponses: str, racine: Path,
              visa: dict[str, Any] | None = None) -> Any:
    with fichiers.materialiser(texte_reponses, fichiers.lister(session, consultation)) as fichier:
        return produire_dce(fichier, racine, visa=visa)


def _enregistrer(session: Any, stockage: Stockage, consultation: Consultation, utilisateur: Utilisateur,
                 dce: Any) -> Generation:
    a_valider = [{"clause": s.clause.id, "version": str(s.clause.version), "titre": s.clause.titre,
                  "statut_juridique": s.clause.statut_juridique, "document": s.clause.document, "article": s.numero}
                 for s in clauses_a_valider(dce.analyse)]
    generation = Generation(consultation_id=consultation.id, numero_reponses=consultation.numero_version,
                            auteur_id=utilisateur.id, conformite=dce.conformite.resume(), clauses_a_valider=a_valider)
    for nom, contenu in sorted(dce.contenus.items()):
        generation.pieces.append(Piece(nom=nom, empreinte=stockage.ranger(contenu), taille=len(contenu)))
    session.add(generation)
    session.flush()
    return generation


def generer(session: Any, stockage: Stockage, consultation: Consultation, utilisateur: Utilisateur,
            texte_reponses: str, racine: Path) -> Generation:
    """Produit le DCE des réponses en cours (même chemin que `dce generer`) et l'enregistre."""
    exiger_fichiers(session, consultation)
    dce = _produire(session, consultation, texte_reponses, racine)
    generation = _enregistrer(session, stockage, consultation, utilisateur, dce)
    journal.noter(session, utilisateur.identifiant, "generation", _objet(consultation),
                  f"réponses version {consultation.numero_version}, {len(generation.pieces)} fichiers")
    return generation


def generations(session: Any, consultation: Consultation) -> list[Generation]:
    return list(session.scalars(select(Generation).where(Generation.consultation_id == consultation.id)
                                .order_by(Generation.id.desc())))


def visa_clause(session: Any, clause_id: str, version: str) -> VisaClause | None:
    return session.scalar(select(VisaClause).where(VisaClause.clause_id == clause_id,
                                                   VisaClause.clause_version == str(version)))


def visas_clauses(session: Any) -> dict[tuple[str, str], VisaClause]:
    return {(v.clause_id, v.clause_version): v for v in session.scalars(select(VisaClause))}


def clauses_du_catalogue(racine: Path) -> list[Any]:
    """Versions de clauses du catalogue dont la source juridique est partielle ou non vérifiée."""
    cat = module_catalogue.charger(module_catalogue.resoudre_racine(racine))
    return sorted((c for versions in cat.clauses.values() for c in versions if c.statut_juridique != "verifie"),
                  key=lambda c: (c.document, c.id, c.version))


def _exiger_juriste(utilisateur: Utilisateur) -> None:
    if utilisateur.role != "juriste":
        raise ErreurDCE(Probleme("seul un juriste peut viser une clause ou une consultation"))


def valider_clause(session: Any, juriste: Utilisateur, clause_id: str, version: str, commentaire: str,
                   racine: Path) -> VisaClause:
    """Le juriste valide une version de clause `partiel`/`non_verifie` du catalogue (une fois pour toutes)."""
    _exiger_juriste(juriste)
    if not any(c.id == clause_id and str(c.version) == str(version) for c in clauses_du_catalogue(racine)):
        raise ErreurDCE(Probleme(f"clause « {clause_id} » version {version} : absente du catalogue ou déjà vérifiée"))
    deja = visa_clause(session, clause_id, version)
    if deja is not None:
        return deja
    visa = VisaClause(clause_id=clause_id, clause_version=str(version), juriste_id=juriste.id,
                      commentaire=" ".join(commentaire.split()))
    session.add(visa)
    session.flush()
    journal.noter(session, juriste.identifiant, "visa_clause", f"clause {clause_id} v{version}", visa.commentaire)
    return visa


def viser_consultation(session: Any, juriste: Utilisateur, consultation: Consultation,
                       commentaire: str) -> VisaConsultation:
    """Visa du juriste sur la version en cours des réponses de la consultation."""
    _exiger_juriste(juriste)
    visa = VisaConsultation(consultation_id=consultation.id, numero_reponses=consultation.numero_version,
                            juriste_id=juriste.id, commentaire=" ".join(commentaire.split()))
    session.add(visa)
    session.flush()
    journal.noter(session, juriste.identifiant, "visa_consultation", _objet(consultation),
                  f"réponses version {consultation.numero_version}" + (f" : {visa.commentaire}" if visa.commentaire else ""))
    return visa


def visa_consultation(session: Any, consultation: Consultation, numero: int) -> VisaConsultation | None:
    return session.scalar(select(VisaConsultation).where(VisaConsultation.consultation_id == consultation.id,
                                                         VisaConsultation.numero_reponses == numero)
                          .order_by(VisaConsultation.id.desc()))


def non_validees(session: Any, generation: Generation) -> list[dict[str, Any]]:
    """Clauses retenues par cette génération qu'aucun juriste n'a validées."""
    visas = visas_clauses(session)
    return [c for c in generation.clauses_a_valider if (c["clause"], c["version"]) not in visas]


def _heure(moment: Any) -> str:
    return date_heure(moment) + " (UTC)"


def publier(session: Any, stockage: Stockage, consultation: Consultation, utilisateur: Utilisateur,
            texte_reponses: str, racine: Path) -> Generation:
    """Publie la consultation : refus si une clause retenue par les réponses en cours n'est pas validée et qu'aucun
    juriste n'a visé cette version des réponses ; sinon le DCE est produit avec le visa tracé dans l'annexe, et
    marqué publié."""
    with fichiers.materialiser(texte_reponses, fichiers.lister(session, consultation)) as fichier:
        retenues = [{"clause": s.clause.id, "version": str(s.clause.version), "titre": s.clause.titre,
                     "statut_juridique": s.clause.statut_juridique}
                    for s in clauses_a_valider(preparer(fichier, racine))]
        visas = visas_clauses(session)
        manquantes = [c for c in retenues if (c["clause"], c["version"]) not in visas]
        visa = visa_consultation(session, consultation, consultation.numero_version)
        if manquantes and visa is None:
            journal.noter(session, utilisateur.identifiant, "publication_refusee", _objet(consultation),
                          f"{len(manquantes)} clause(s) non validée(s), pas de visa")
            raise PublicationRefusee(Probleme(
                f"publication impossible avant le visa d'un juriste : {len(manquantes)} clause"
                f"{'s' if len(manquantes) > 1 else ''} retenue{'s' if len(manquantes) > 1 else ''} "
                f"sans validation juridique ({', '.join(c['titre'] for c in manquantes)})"))
        exiger_fichiers(session, consultation, pour_publier=True)
        trace = None
        if visa is not None or retenues:
            lignes = []
            for c in retenues:
                v = visas.get((c["clause"], c["version"]))
                lignes.append({**c, "validation": f"validée par {v.juriste.nom} le {_heure(v.le)}" if v
                               else "couverte par le visa de la consultation", "commentaire": v.commentaire if v else ""})
            trace = {"juriste": visa.juriste.nom if visa else "(aucun visa de consultation)",
                     "le": _heure(visa.le) if visa else "", "commentaire": visa.commentaire if visa else "",
                     "clauses": lignes}
            if visa is None:  # toutes les clauses validées une à une : pas de visa de consultation à citer
                trace["juriste"] = "le service juridique (chaque clause validée)"
                trace["le"] = _heure(max(visas[(c["clause"], c["version"])].le for c in retenues))
        dce = produire_dce(fichier, racine, visa=trace)
        for jointe in lire_pieces_jointes(dce.analyse, fichier):  # publiées avec le DCE, comme par `dce publier`
            dce.contenus[jointe.nom] = jointe.contenu
    generation = _enregistrer(session, stockage, consultation, utilisateur, dce)
    generation.publiee_le = maintenant()
    generation.publiee_par_id = utilisateur.id
    journal.noter(session, utilisateur.identifiant, "publication", _objet(consultation),
                  f"réponses version {consultation.numero_version}" + (f", visa de {visa.juriste.nom}" if visa else ""))
    return generation


def publiee(session: Any, consultation: Consultation) -> Generation | None:
    return session.scalar(select(Generation).where(Generation.consultation_id == consultation.id,
                                                   Generation.publiee_le.is_not(None)).order_by(Generation.id.desc()))
