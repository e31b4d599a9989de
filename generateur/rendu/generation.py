"""Génération d'un DCE : réponses → analyse → CCAP, CCTP, RC, fiche de traçabilité et manifeste."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..donnees import cache, fenetre, pieces_jointes, questionnaire
from ..pieces import annexe, decp
from ..pieces.assemblage import blocs_document, calcul_garde, empreinte_piece, memoire_de_consultation
from ..droit.conformite import Conformite
from ..droit.expressions import lot_d_evaluations
from ..pieces.lecture import controler
from ..donnees.fichiers import ecrire_neuf, ensemble, json_lisible, reprendre
from .documents import empreinte_modele, lire_precedent, produire, variables_acheteur
from ..erreurs import ErreurDCE, ErreurDonnees, Probleme
from ..donnees.formats import date_heure, date_longue
from ..droit.regles import Analyse
from ..pieces.texte_technique import titre_piece
from ..pieces.tracabilite import empreinte_fiche, fiche, manifeste
from ..donnees.fichiers import nom_sur
from ..droit.regles import en_json, preparer

PIECES = ("RC", "CCAP", "CCTP")


@dataclass
class Resultat:
    analyse: Analyse
    fichiers: dict[str, Path]
    conformite: Conformite | None = None


def variables_modele(analyse: Analyse, document: str, titre: str) -> dict[str, Any]:
    ctx = analyse.contexte
    objet = " ".join(str(ctx["objet"]).split())
    return {
        **variables_acheteur(analyse.acheteur.profil, analyse.acheteur.logo()),
        "titre_document": titre,
        "sigle_document": document,
        "objet": objet,
        # pied de page : la référence, qui identifie la pièce sans être coupée (un objet tronqué par « … » ne
        # désigne plus rien ; relecture du juriste)
        "objet_court": _pied_de_page(str(ctx["reference"])),
        "reference": ctx["reference"],
        "procedure": ctx["procedure_libelle"],
        "date_limite": date_heure(ctx["date_limite_offres"]),
        "date_lancement": date_longue(ctx["date_lancement"]),
    }


def modele_de(analyse: Analyse, document: str) -> Path:
    """Modèle Word : celui que le profil de l'acheteur désigne pour ce document, sinon le modèle commun."""
    propres = analyse.acheteur.profil.get("modeles") or {}
    if document in propres:
        return analyse.acheteur.dossier / str(propres[document])
    return analyse.catalogue.modeles() / "dce.docx"


def lire_pieces_jointes(analyse: Analyse, fichier_reponses: Path | str) -> list[pieces_jointes.PieceJointe]:
    """Les fichiers des pièces jointes par l'acheteur ; absent, illisible ou hors du dossier → ErreurDonnees."""
    schema = questionnaire.charger(analyse.catalogue.racine / "questionnaire.yaml")
    return pieces_jointes.lire(analyse.reponses.donnees, fichier_reponses, schema,
                               nom_sur(str(analyse.contexte["reference"])), analyse.reponses.document.ligne)


def pieces_jointes_manquantes(analyse: Analyse, fichier_reponses: Path | str) -> list[str]:
    """Les problèmes des pièces jointes, sans arrêter (`dce verifier`, `dce generer`) : `dce publier` s'arrêtera.

    Ici et non dans `publication` : `dce generer` l'appelle sans avoir à importer la publication (PDF, actes
    d'engagement, bordereaux…)."""
    try:
        lire_pieces_jointes(analyse, fichier_reponses)
    except ErreurDonnees as exc:
        return [str(p) for p in exc.problemes]
    return []


@dataclass
class Dce:
    """Les fichiers d'une consultation, produits en mémoire : rien n'est encore écrit."""

    analyse: Analyse
    conformite: Conformite
    contenus: dict[str, bytes]


def produire_dce(fichier_reponses: Path | str, racine: Path | None = None, date_droit: dt.date | None = None,
                 strict: bool = False, complementaires: bool = False, visa: dict[str, Any] | None = None,
                 precedente: Path | None = None) -> Dce:
    """Le DCE en mémoire : RC, CCAP, CCTP, fiche de traçabilité, annexe de conformité et manifeste.

    `strict` : une obligation légale non respectée ou un défaut bloquant de la relecture (annexe de conformité)
    arrête tout ici. `complementaires` : la relecture lit aussi les pièces que `dce publier` ajoute.
    `visa` : visa du service juridique (serveur d'équipe), tracé dans l'annexe de conformité.
    `precedente` : dossier d'une génération précédente de la même consultation (version précédente d'une
    régénération, dossier de sortie de `dce generer` déjà rempli) ; chaque document Word dont les entrées n'ont pas
    changé y est repris à l'octet au lieu d'être rendu (`documents.produire`, qui vérifie ses octets : un fichier
    retouché ou d'une autre consultation est rendu de nouveau).
    """
    # Sans ramasse-miettes le temps de la production : elle crée des centaines de milliers d'objets qui vivent jusqu'à
    # sa fin, et chaque parcours du ramasse-miettes les reparcourait, avec tout le tas d'un lot (catalogue, mémoires)
    # à chaque parcours complet : ≈ 20 % du calcul d'une consultation régénérée, mesuré. Une minuterie du bac à sable
    # pour toutes les évaluations et tous les rendus de clauses de la production (droit/expressions.py).
    with cache.sans_ramasse_miettes(), lot_d_evaluations():
        return _produire_dce(fichier_reponses, racine, date_droit, strict, complementaires, visa, precedente)


def _produire_dce(fichier_reponses: Path | str, racine: Path | None, date_droit: dt.date | None, strict: bool,
                  complementaires: bool, visa: dict[str, Any] | None, precedente: Path | None) -> Dce:
    analyse = preparer(fichier_reponses, racine, date_droit)
    # Les textes propres à la consultation (objet, lieux, montants), que les mémoires disque partagées ne peuvent
    # garder pour chacune des consultations d'un lot, sont gardés dans sa mémoire (`cache.groupe`), désignée par le
    # contenu de son fichier de réponses. Les mémoires de ce processus (`fenetre.Fenetre`) comptent les consultations
    # produites : ce qui n'a servi qu'à l'une d'elles s'en va après elle.
    fenetre.consultation_suivante()
    with cache.groupe(getattr(analyse.reponses.document, "octets", None)):
        return _assembler_dce(analyse, fichier_reponses, strict, complementaires, visa, precedente)


def _assembler_dce(analyse: Analyse, fichier_reponses: Path | str, strict: bool, complementaires: bool,
                   visa: dict[str, Any] | None, precedente: Path | None) -> Dce:
    base = nom_sur(str(analyse.contexte["reference"]))
    contenus: dict[str, bytes] = {}
    modeles: dict[Path, bytes] = {}

    def word(nom: str, modele: Path, variables: dict[str, Any], blocs: Any, titres: Any, empreinte: str | None,
             contenu: Any = None) -> None:
        contenus[nom] = produire(modele, variables, blocs, titres, reprise=True,
                                 precedent=precedente / nom if precedente is not None else None, empreinte=empreinte,
                                 contenu=contenu)

    pieces = {document: blocs_document(analyse, document) for document in PIECES}
    # la fiche de traçabilité n'est faite que s'il faut la relire (`lecture.controler` : sa relecture est gardée sous
    # son empreinte) ou rendre son document (repris sous la même empreinte) : régénérée après la modification du
    # corps d'une clause, elle ne l'est pas. Les contrôles passent avant les documents : faite, elle l'est d'abord
    # pour sa relecture, et les paramètres du catalogue qu'elle lit sont relevés avec la relecture gardée (relus
    # quand celle-ci est reprise sans que la fiche soit faite : le manifeste les cite)
    spaser = functools.cache(lambda: fiche(analyse))
    conformite = controler(analyse, {document: blocs for document, (blocs, _) in pieces.items()}, complementaires,
                           lambda: spaser()[0])
    if strict and conformite.refus_strict:
        raise ErreurDCE([Probleme(motif, fichier_reponses) for motif in conformite.refus_strict]
                        + [Probleme("mode strict\u00a0: aucun document n'a été écrit")])
    for document in PIECES:
        blocs, titres = pieces[document]
        modele = modele_de(analyse, document)
        if not modele.is_file():
            raise ErreurDonnees(Probleme("modèle Word introuvable", modele))
        if modele not in modeles:  # le même modèle pour les trois pièces, le plus souvent : lu une fois
            modeles[modele] = modele.read_bytes()
        titre = titre_piece(analyse, document)
        word(f"{base}-{document}.docx", modele, variables_modele(analyse, document, titre), blocs, titres,
             empreinte_piece(analyse, document))
    word(f"{base}-tracabilite-SPASER.docx", modele_de(analyse, "CCAP"),
         variables_modele(analyse, "SPASER", "Fiche de traçabilité SPASER"), [], [], empreinte_fiche(analyse), spaser)
    contenus.update(contenus_annexe(analyse, conformite, base, visa, precedente))
    contenus.update(decp.contenus(analyse, base))  # données essentielles DECP 2.0.3, un fichier par lot
    donnees = manifeste(analyse, contenus, b"".join(modeles.values()))
    donnees["conformite"] = conformite.resume()
    contenus[f"{base}-manifeste.json"] = json_lisible(donnees)
    return Dce(analyse, conformite, contenus)


def ecrire(contenus: dict[str, bytes], dossier: Path, precedente: tuple[Path, Mapping[str, bytes]] | None = None,
           lecture_seule: bool = False) -> dict[str, Path]:
    """Écrit des fichiers produits en mémoire dans `dossier` ; {nom: chemin}.

    `dossier` est un dossier en préparation (`fichiers.ensemble`, version en préparation d'une régénération), que
    personne ne voit avant sa mise en place par renommage : les fichiers y sont écrits directement sous leur nom
    (`fichiers.ecrire_neuf`, sans nom temporaire), sans être synchronisés un à un ; une seule barrière de durabilité
    les couvre tous avant leur mise en place. `precedente` : le dossier d'une version précédente et ses fichiers
    (nom → octets, lus) ; un fichier identique à l'octet au sien en est repris par un lien physique, en lecture
    seule (`fichiers.reprendre`), sinon écrit. `lecture_seule` : les fichiers écrits le sont aussi (version publiée)."""
    chemins = {}
    for nom, contenu in contenus.items():
        chemin = chemins[nom] = dossier / nom
        if precedente is not None and precedente[1].get(nom) == contenu and reprendre(precedente[0] / nom, chemin):
            continue
        ecrire_neuf(chemin, contenu, lecture_seule=lecture_seule)
    return chemins


def generer(fichier_reponses: Path | str, sortie: Path | str, racine: Path | None = None,
            date_droit: dt.date | None = None, strict: bool = False, complementaires: bool = False) -> Resultat:
    """Écrit le DCE dans `sortie`, tout ensemble (`fichiers.ensemble`) : tout est produit en mémoire, écrit
    dans un dossier temporaire, puis mis en place d'un coup ; un échec ne laisse rien de nouveau.

    `strict` : une obligation légale non respectée ou un défaut bloquant de la relecture empêche toute écriture.
    """
    sortie = Path(sortie)
    dce = produire_dce(fichier_reponses, racine, date_droit, strict, complementaires,
                       precedente=sortie if sortie.is_dir() else None)
    with ensemble(sortie) as dossier:
        ecrire(dce.contenus, dossier)
    return Resultat(dce.analyse, {nom: sortie / nom for nom in dce.contenus}, dce.conformite)


def contenus_annexe(analyse: Analyse, conformite: Conformite, base: str,
                    visa: dict[str, Any] | None = None, precedente: Path | None = None) -> dict[str, bytes]:
    """Les trois fichiers de l'annexe, en mémoire : base-annexe-conformite.docx, .json et .csv (`precedente` : voir
    `produire_dce`).

    Ils ne dépendent que des verdicts et de ce dont ils dépendent (`conformite.cle`, quand ils ont été gardés), du visa,
    du modèle Word et de ses variables : leurs empreintes sont gardées sous tout cela dans la mémoire de la
    consultation (mémoire « annexes »), avec les paramètres du catalogue que leur production a lus ; quand les
    fichiers de `precedente` ont ces empreintes, ils sont repris tels quels (la régénération après la modification
    d'une clause qui ne change aucun verdict : l'annexe est la même)."""
    nom = f"{base}-annexe-conformite.docx"
    noms = (nom, f"{base}-annexe-conformite.json", f"{base}-annexe-conformite.csv")
    modele, variables = modele_de(analyse, "CCAP"), variables_modele(analyse, "ANNEXE", annexe.TITRE)

    def produits() -> dict[str, bytes]:
        contenu = en_json(annexe.donnees(analyse, conformite, visa))
        corps, titres = annexe.blocs(analyse, conformite, visa=visa)
        return dict(zip(noms, (produire(modele, variables, corps, titres, reprise=True,
                                        precedent=precedente / nom if precedente is not None else None),
                               json_lisible(contenu), annexe.csv_annexe(contenu))))

    document = empreinte_modele(modele, variables) if conformite.cle is not None else None
    if document is None:
        return produits()
    try:
        cle = cache.empreinte(conformite.cle, base, document, cache.octets_stables(visa))
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError, ValueError):
        return produits()

    def reprendre(empreintes: Any) -> dict[str, bytes] | None:
        if precedente is None or type(empreintes) is not tuple or len(empreintes) != len(noms):
            return None
        repris = [lire_precedent(precedente / n) for n in noms]
        if all(o is not None and hashlib.sha256(o).hexdigest() == e for o, e in zip(repris, empreintes)):
            return dict(zip(noms, repris))
        return None

    return calcul_garde(memoire_de_consultation("annexes"), cle, analyse, produits, reprendre,
                        lambda fichiers: tuple(hashlib.sha256(fichiers[n]).hexdigest() for n in noms))


def _pied_de_page(reference: str) -> str:
    texte = f"Consultation n°\u00a0{reference}"
    return texte if len(texte) <= 50 else texte[:49] + "…"
