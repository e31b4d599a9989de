"""Manifeste de génération et fiche de traçabilité SPASER (blocs)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from .. import __version__
from ..donnees.acheteurs import Acheteur
from .blocs import Bloc, Paragraphe, Segment, Tableau, Titre
from ..donnees.catalogue import Catalogue
from ..donnees import cache
from ..donnees import questionnaire as module_questionnaire
from ..donnees.formats import INSECABLE, date_longue, liste_fr, montant, nombre, pluriel, pourcent, sans_marques
from ..droit.regles import Analyse, Selection, en_json
from .assemblage import cle_consultation, memoire_de_consultation
from ..droit.expressions import chemins_utilises
from ..droit.spaser import EXECUTION, LienApplique, actions_mises_en_oeuvre, ordre_actions, par_niveau
from .decp import considerations_par_lot


ELEMENTS_AU_PLUS = 6  # une réponse en liste (lots, critères) est résumée au-delà : jamais la liste entière
CARACTERES_AU_PLUS = 200  # une réponse en texte libre est citée jusque-là


def regle_lisible(analyse: Analyse, s: Selection) -> str:
    """La règle d'une clause en français (champ `quand` de la clause), les réponses lues présentées comme des
    réponses (libellé de la question : valeur mise en forme) et les lots retenus. Jamais d'expression Jinja ni
    de structure de données.

    Écrite une fois par clause et par analyse : la fiche (une ligne par lien SPASER, souvent plusieurs par clause)
    et les deux passages de l'annexe (relecture, puis annexe finale) la redemandent ; la sélection, faite par
    l'analyse, ne change plus."""
    deja = analyse.memoire.get(("regle_lisible", id(s)))
    if deja is not None and deja[0] is s:
        return deja[1]
    texte = _regle_lisible(analyse, s)
    analyse.memoire[("regle_lisible", id(s))] = (s, texte)  # la sélection gardée : son identifiant ne resservira pas
    return texte


def _regle_lisible(analyse: Analyse, s: Selection) -> str:
    texte = (s.clause.quand or "règle non décrite").rstrip(".")
    texte = texte[:1].upper() + texte[1:]
    questionnaire = module_questionnaire.charger(analyse.catalogue.racine / "questionnaire.yaml")
    lues = []
    for chemin, valeur in s.lues.items():
        question = questionnaire.question(chemin)
        if question is None or question.id != chemin or question.type == "liste":
            continue  # valeur calculée (voir les valeurs calculées) ou liste (lots, critères) : pas une réponse simple
        lues.append(f"« {question.libelle} »{INSECABLE}: {reponse_lisible(question, valeur)}")
    if lues:
        texte += f" — {pluriel(len(lues), 'réponse lue', 'réponses lues', avec_nombre=False)}{INSECABLE}: " + " ; ".join(lues)
    if s.lots:
        texte += f" — {pluriel(len(s.lots), 'lot retenu', 'lots retenus', avec_nombre=False)}{INSECABLE}: " \
                 + liste_fr(str(n) for n in s.lots)
    return texte + "."


def reponse_lisible(question: Any, valeur: Any) -> str:
    """Une réponse mise en forme selon sa question : choix par son libellé, montant, pourcentage, oui/non."""
    if valeur is None or valeur == "":
        return "sans réponse"
    if question.type in ("choix", "choix_multiple"):
        valeurs = valeur if isinstance(valeur, list) else [valeur]
        return liste_fr(str(question.choix.get(str(v), v)) for v in valeurs) or "aucun"
    if question.type == "montant" and isinstance(valeur, (int, float)):
        return montant(valeur)
    if question.type == "pourcentage" and isinstance(valeur, (int, float)):
        return pourcent(valeur)
    texte = afficher(valeur)
    return texte if len(texte) <= CARACTERES_AU_PLUS else texte[:CARACTERES_AU_PLUS].rstrip() + "…"


def _sha256(contenu: bytes) -> str:
    return hashlib.sha256(contenu).hexdigest()


def entrees(catalogue: Catalogue, acheteur: Acheteur, fichier_reponses: Path | str,
            octets_reponses: bytes | None = None) -> dict[str, Any]:
    """Empreintes de ce dont dépend une génération, hors clauses et paramètres (suivis un par un).

    Régénération : une consultation est concernée par un changement si l'une d'elles diffère.
    `octets_reponses` : le fichier de réponses tel qu'il a été analysé (sinon, il est relu).
    """
    racine = catalogue.racine
    sections = _sections(catalogue)
    reponses = Path(fichier_reponses)
    return {
        "reponses": (_sha256(octets_reponses) if octets_reponses is not None
                     else _sha256(reponses.read_bytes()) if reponses.is_file() else None),
        "catalogue": sections,
        "sources": _sources(racine, catalogue.modeles(), acheteur.dossier),
    }


def _sources_lues(racine: Path, modeles: Path, dossier_acheteur: Path) -> dict[str, str]:
    fichiers = [racine / "questionnaire.yaml", *sorted(modeles.glob("*.docx")),
                *sorted(p for p in dossier_acheteur.rglob("*") if p.is_file())]
    return {p.relative_to(racine).as_posix(): _sha256(p.read_bytes()) for p in fichiers if p.is_file()}


# Empreintes des sources (questionnaire, modèles Word, dossier de l'acheteur) gardées le temps d'un lot de
# régénération (`sources_du_lot`) : les mêmes fichiers pour toutes ses consultations, relus et hachés une fois par
# processus de calcul et par acheteur au lieu d'une fois par consultation (≈ 170 Kio par consultation). Hors d'un lot
# (dce generer, serveur), tout est relu à chaque génération : un modèle ou un profil modifié entre deux générations est
# vu. Dans un lot, un fichier modifié pendant le lot peut être enregistré sous son empreinte d'avant : la régénération
# suivante le voit modifié et régénère, comme il faut.
class _EtatDuLot(threading.local):
    """L'état d'un fil : chaque fil a le sien (un exécuteur fourni à plusieurs fils calcule plusieurs consultations à
    la fois dans le même processus ; un état commun, sauvé puis remis par chacun, restait « dans un lot » après)."""

    def __init__(self) -> None:
        self.sources: dict[tuple[Path, Path, Path], dict[str, str]] = {}  # (racine, modèles, acheteur) → empreintes
        self.lot: Any = None  # identifiant du lot dont elles sont les empreintes
        self.dans_un_lot = False  # bloc `sources_du_lot` en cours


_ETAT = _EtatDuLot()


@contextmanager
def sources_du_lot(lot: Any) -> Iterator[None]:
    """Le temps du bloc, les empreintes des sources sont gardées sous `lot` (identifiant d'un lot et de l'état du
    catalogue qu'il régénère) : un autre lot repart de rien."""
    etat = _ETAT
    if etat.lot != lot:
        etat.sources.clear()
        etat.lot = lot
    avant, etat.dans_un_lot = etat.dans_un_lot, True
    try:
        yield
    finally:
        etat.dans_un_lot = avant


def _sources(racine: Path, modeles: Path, dossier_acheteur: Path) -> dict[str, str]:
    etat = _ETAT
    if not etat.dans_un_lot:
        return _sources_lues(racine, modeles, dossier_acheteur)
    cle = (racine, modeles, dossier_acheteur)
    if cle not in etat.sources:
        etat.sources[cle] = _sources_lues(racine, modeles, dossier_acheteur)
    return dict(etat.sources[cle])


# Empreintes des sections du catalogue, calculées une fois par catalogue chargé (les mêmes pour toutes les
# consultations d'un lot ; la section des calculs, sérialisée, fait ≈ 57 000 caractères).
_SECTIONS = cache.ParObjet(8)
SECTIONS = ("documents", "calculs", "ccag")


def _sections(catalogue: Catalogue) -> dict[str, str]:
    valeurs = tuple(getattr(catalogue, nom) for nom in SECTIONS)
    return dict(_SECTIONS.obtenir(catalogue, lambda: {
        nom: _sha256(json.dumps(valeur, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
        for nom, valeur in zip(SECTIONS, valeurs)}, aussi=valeurs))


@lru_cache(maxsize=4096)
def _relatif(fichier: Path, racine: Path) -> str:
    """Chemin d'un fichier de clause sous la racine du catalogue (les mêmes pour chaque consultation d'un lot)."""
    return fichier.relative_to(racine).as_posix()


def manifeste(analyse: Analyse, fichiers: dict[str, bytes], modele: bytes) -> dict[str, Any]:
    """Enregistrement complet d'une génération : régénération et annexe le relisent."""
    return {
        "outil": {"nom": "dce", "version": __version__},
        "catalogue": {"version": analyse.catalogue.version},
        "acheteur": analyse.acheteur.id,
        "date_lancement": analyse.contexte["date_lancement"].isoformat(),
        "droit_applicable_au": analyse.date_droit.isoformat(),
        "reponses": en_json(analyse.reponses.donnees),
        "modele": {"sha256": hashlib.sha256(modele).hexdigest()},
        "calculs": [
            {"nom": c.nom, "lot": c.lot, "valeur": c.valeur, "expression": c.expression, "reference": c.reference}
            for c in analyse.calculs
        ],
        "clauses": [
            {
                "id": s.clause.id, "version": s.clause.version, "sha256": s.clause.empreinte,
                "fichier": _relatif(s.clause.fichier, analyse.catalogue.racine),
                "document": s.clause.document, "article": s.numero, "retenue": s.retenue,
                "en_vigueur": {"du": s.clause.du.isoformat(), "au": s.clause.au.isoformat() if s.clause.au else None},
                "regle": s.clause.condition, "reponses_lues": s.lues, "lots": s.lots,
                "references": s.clause.references, "actions": s.clause.actions,
                "liens_spaser": [{"action": l.action, "niveau": l.niveau, **({"si": l.si} if l.si else {})}
                                 for l in s.clause.liens],
            }
            for s in sorted(analyse.selections, key=lambda s: s.clause.id)
        ],
        "parametres": [
            {"nom": nom, "valeur": valeur, "reference": str(analyse.catalogue.parametres[nom].get("reference", ""))}
            for nom, valeur in sorted(getattr(analyse.contexte["param"], "lus", {}).items())
        ],
        "entrees": entrees(analyse.catalogue, analyse.acheteur, analyse.reponses.fichier,
                           analyse.reponses.document.octets),
        # actions mises en œuvre au-delà du droit (les seules que compte le bilan), puis chaque niveau
        "actions_spaser": ordre_actions({a.id for a, _ in actions_mises_en_oeuvre(analyse)}),
        "actions_spaser_par_niveau": {niveau: ordre_actions({l.action.id for l in liens})
                                      for niveau, liens in par_niveau(analyse).items()},
        "decp": considerations_par_lot(analyse),
        "fichiers": {nom: hashlib.sha256(contenu).hexdigest() for nom, contenu in sorted(fichiers.items())},
    }


# Cellules des tableaux (fiche, annexe, rapports) : d'une consultation à l'autre, la plupart des textes reviennent
# (en-têtes, axes et chantiers du référentiel, verdicts, « — »). Chaque texte donne une cellule (liste d'un segment,
# typographie faite) gardée et partagée par tous les tableaux qui le citent : ni les cellules ni leurs segments ne
# sont jamais modifiés (une ligne de tableau peut l'être : on y remplace une cellule entière). Bornée : vidée
# au-delà de CELLULES_AU_PLUS textes, jamais au milieu d'un tableau.
CELLULES_AU_PLUS = 4096
_CELLULES: dict[str, list[Segment]] = {}


def _cellule(texte: str) -> list[Segment]:
    cellule = _CELLULES[texte] = [Segment(texte)]
    return cellule


def tableau(lignes: list[list[str]], largeurs: list[int] | None = None) -> Tableau:
    if len(_CELLULES) > CELLULES_AU_PLUS:
        _CELLULES.clear()
    gardees = _CELLULES
    return Tableau([[gardees.get(c) or _cellule(c) for c in ligne] for ligne in lignes], True, largeurs)


def tableau_consultation(analyse: Analyse, autres: list[list[str]]) -> Tableau:
    """Identité de la consultation (fiche SPASER, annexe de conformité), suivie des lignes propres au document."""
    ctx = analyse.contexte
    return tableau([
        ["Rubrique", "Valeur"],
        ["Référence", str(ctx["reference"])],
        ["Objet", str(ctx["objet"])],
        ["Acheteur", str(analyse.acheteur.profil["nom"])],
        ["Date de lancement", date_longue(ctx["date_lancement"])],
        ["Droit appliqué", f"en vigueur au {date_longue(analyse.date_droit)}"],
        ["Procédure", f"{ctx['procedure_libelle']} ({ctx['procedure_article']})"],
    ] + autres, [35, 65])


def empreinte_fiche(analyse: Analyse) -> str | None:
    """Empreinte de tout ce dont dépendent les blocs de la fiche : elle ne lit que l'analyse (plan, clauses retenues et
    leurs en-têtes, liens SPASER, calculs, réponses), le référentiel de l'acheteur et les libellés du questionnaire,
    jamais le corps d'une clause ; soit la clé de l'analyse (`cle_consultation`, qui couvre tout cela) et le code qui
    la produit (celui des pièces : version de la mémoire des rendus). None sans clé de l'analyse. Le document Word
    de la fiche est repris sous cette empreinte (`documents.produire`), sans sérialiser ses blocs. (Les blocs
    eux-mêmes ne sont pas gardés : les relire d'un pickle, ≈ 0,85 ms pour 54 Kio, coûte presque autant que les
    refaire, ≈ 1,3 ms, et grossirait d'autant la mémoire de chaque consultation.)"""
    consultation = cle_consultation(analyse)
    if consultation is None:
        return None
    return cache.empreinte(memoire_de_consultation("rendus").version, "fiche", consultation)


def fiche(analyse: Analyse) -> tuple[list[Bloc], list[Titre]]:
    """Fiche de traçabilité SPASER : ce que la consultation met en œuvre, où et pourquoi."""
    ctx = analyse.contexte
    blocs: list[Bloc] = []
    titres: list[Titre] = []

    def article(n: int, texte: str) -> None:
        t = Titre(1, f"Article {n} – {texte}", f"_Toc_art_{n}")
        blocs.append(t)
        titres.append(t)

    referentiel = analyse.acheteur.referentiel
    article(1, "Consultation")
    blocs.append(tableau_consultation(analyse, [
        ["Montant estimé total", montant(ctx["montant_total"])],
        ["Référentiel", str(referentiel.get("titre", ""))],
        ["Version du catalogue", analyse.catalogue.version],
    ]))
    blocs.append(tableau(
        [["Lot", "Intitulé", "Montant estimé", "Avance PME / autres", "Heures d'insertion"]]
        + [[str(l["numero"]), str(l["intitule"]), montant(l["montant_estime"]),
            f"{pourcent(l['avance_taux_pme'])} / {pourcent(l['avance_taux_non_pme'])}" if l["avance_versee"] else "non versée",
            nombre(l["heures_insertion"]) if l["heures_insertion"] else "—"]
           for l in ctx["lots"]], [8, 37, 20, 18, 17]))

    niveaux = par_niveau(analyse)
    mises = {l.action.id for l in niveaux["mise_en_oeuvre"]}
    legales = {l.action.id for l in niveaux["obligation_legale"]} - mises
    rappels = {l.action.id for l in niveaux["rappel"]} - mises - legales
    article(2, "Actions SPASER et clauses de la consultation")
    blocs.append(Paragraphe([Segment(
        f"Chaque lien d'une clause retenue vers une action du référentiel «{INSECABLE}{referentiel.get('titre', '')}"
        f"{INSECABLE}» dit son niveau{INSECABLE}: mise en œuvre au-delà du droit (un choix de l'acheteur pour cette "
        "consultation ou une règle de sa politique d'achat qui va plus loin que le droit), obligation légale (ce que "
        "le droit impose à tout acheteur) ou rappel (une clause présente dans toute consultation qui rappelle le droit "
        "ou une pratique que l'action cite, une variante que les candidats peuvent proposer, ou un critère de jugement "
        "qu'aucune clause du CCAP ou du CCTP ne met en œuvre : rien n'y engage le titulaire). Seules les actions mises "
        "en œuvre au-delà du droit sont comptées dans le bilan de la politique d'achat ; chacune l'est par une clause "
        "du CCAP ou du CCTP, un critère de jugement ne comptant qu'avec elle.")]))
    for n, (niveau, titre, vide, actions) in enumerate((
            ("mise_en_oeuvre", "Actions mises en œuvre au-delà du droit",
             "Aucune action du référentiel n'est mise en œuvre au-delà du droit par cette consultation.", mises),
            ("obligation_legale", "Actions auxquelles répondent des obligations légales",
             "Aucune clause retenue ne rattache une obligation légale à une action du référentiel.", legales),
            ("rappel", "Actions rappelées, sans engagement du titulaire",
             "Aucune clause retenue ne rappelle une action du référentiel.", rappels)), start=1):
        t = Titre(2, f"2.{n}{INSECABLE}– {titre}", f"_Toc_art_2_{n}")
        blocs.append(t)
        titres.append(t)
        liens = niveaux[niveau]
        if not liens:
            blocs.append(Paragraphe([Segment(vide)]))
            continue
        texte = (f"{pluriel(len(actions), 'action')} à ce niveau{INSECABLE}: "
                 f"{', '.join(ordre_actions(actions)) if actions else 'aucune autre que celles déjà comptées'}.")
        if len({l.action.id for l in liens}) > len(actions):
            texte += (" Le tableau montre aussi les clauses de ce niveau rattachées à une action déjà comptée au niveau "
                      "précédent.")
        blocs.append(Paragraphe([Segment(texte)]))
        blocs.append(_tableau_liens(analyse, liens))

    article(3, "Synthèse par axe et par chantier")
    lignes = [["Axe", "Chantier", "Mises en œuvre au-delà du droit", "Obligations légales seules", "Rappels seuls",
               "Actions du chantier"]]
    for axe in referentiel.get("axes", []):
        for chantier in axe.get("chantiers", []):
            ids = [str(a["id"]) for a in chantier.get("actions", [])]

            def du_chantier(ensemble: set[str]) -> str:
                return ", ".join(sorted((i for i in ensemble if i in ids), key=ids.index)) or "—"
            lignes.append([f"{axe['numero']}. {axe['titre']}", f"{chantier['numero']}. {chantier['titre']}",
                           du_chantier(mises), du_chantier(legales), du_chantier(rappels), str(len(ids))])
    blocs.append(tableau(lignes, [20, 32, 14, 12, 10, 12]))
    resume = []
    for axe in referentiel.get("axes", []):
        ids = {str(a["id"]) for c in axe.get("chantiers", []) for a in c.get("actions", [])}
        resume.append([f"{axe['numero']}. {axe['titre']}", f"{len(mises & ids)} / {len(ids)}",
                       nombre(len(legales & ids)), nombre(len(rappels & ids))])
    blocs.append(tableau([["Axe", "Mises en œuvre au-delà du droit / actions de l'axe", "Obligations légales seules",
                           "Rappels seuls"]] + resume, [46, 24, 15, 15]))

    article(4, "Données essentielles (DECP 2.x)")
    blocs.append(Paragraphe([Segment("Valeurs que l'acheteur déclarera dans les données essentielles de chaque "
                                     "lot (un marché par lot), déduites des clauses retenues pour le lot et des "
                                     "critères de jugement (arrêté relatif aux données essentielles de la commande "
                                     "publique, schéma DECP 2.0.3) ; elles figurent dans les fichiers DECP joints.")]))
    blocs.append(tableau([["Lot", "considerationsSociales", "considerationsEnvironnementales"]]
                          + [[str(d["lot"]), " ; ".join(d["considerationsSociales"]["considerationSociale"]),
                              " ; ".join(d["considerationsEnvironnementales"]["considerationEnvironnementale"])]
                             for d in considerations_par_lot(analyse)], [10, 45, 45]))

    article(5, "Valeurs calculées")
    questionnaire = module_questionnaire.charger(analyse.catalogue.racine / "questionnaire.yaml")
    libelles = _LIBELLES_CHOIX.obtenir(questionnaire, lambda: {cle: libelle for q in questionnaire.questions
                                                               for cle, libelle in q.choix.items()})
    blocs.append(tableau(
        [["Valeur calculée", "Lot", "Résultat", "Référence"]]
        + [[c.explication or c.nom, str(c.lot) if c.lot is not None else "—",
            libelles[c.valeur] if isinstance(c.valeur, str) and c.valeur in libelles else afficher(c.valeur),
            c.reference] for c in analyse.calculs],
        [40, 7, 20, 33]))
    return blocs, titres


_LIBELLES_CHOIX = cache.ParObjet(8)  # questionnaire chargé → {valeur d'un choix: libellé}


def _valeur(contexte: dict[str, Any], chemin: str) -> Any:
    valeur: Any = contexte
    for cle in chemin.split("."):
        valeur = valeur.get(cle) if isinstance(valeur, dict) else None
    return valeur


def motif_du_niveau(analyse: Analyse, lien: LienApplique) -> str:
    """Ce qui a décidé du niveau d'un lien restreint par `si`, en français : la clause d'exécution qui accompagne un
    critère (`execution`), ou les réponses que lit la condition ; vide pour un lien sans condition ou décidé par un
    calcul (l'article 5 de la fiche en donne la valeur)."""
    if not lien.si:
        return ""
    if f"{EXECUTION}(" in lien.si:
        return (" Compté avec la clause du CCAP ou du CCTP qui met en œuvre la même action." if lien.niveau ==
                "mise_en_oeuvre" else " Aucune clause du CCAP ou du CCTP ne met en œuvre cette action : rappel.")
    questionnaire = module_questionnaire.charger(analyse.catalogue.racine / "questionnaire.yaml")
    lues = []
    for chemin in dict.fromkeys(chemins_utilises(lien.si)):
        question = questionnaire.question(chemin)
        if question is not None and question.id == chemin and question.type != "liste":
            lues.append(f"«{INSECABLE}{question.libelle}{INSECABLE}»{INSECABLE}: "
                        f"{reponse_lisible(question, _valeur(analyse.contexte, chemin))}")
    return f" Niveau selon {'la réponse' if len(lues) == 1 else 'les réponses'} " + " ; ".join(lues) + "." if lues else ""


def _tableau_liens(analyse: Analyse, liens: list[LienApplique]) -> Tableau:
    return tableau(
        [["Action", "Intitulé de l'action", "Pièce", "Article", "Clause (version)", "Règle appliquée"]]
        + [[l.action.id, l.action.titre, l.selection.clause.document, l.selection.numero,
            f"{l.selection.clause.titre} ({l.selection.clause.id}, v{l.selection.clause.version})",
            regle_lisible(analyse, l.selection) + motif_du_niveau(analyse, l)] for l in liens],
        [9, 24, 11, 9, 22, 25])


def afficher(valeur: Any) -> str:
    """Valeur lisible : une liste est résumée (ELEMENTS_AU_PLUS éléments), un objet par son intitulé ou son numéro."""
    if isinstance(valeur, list):
        textes = [afficher(v) for v in valeur[:ELEMENTS_AU_PLUS]]
        if len(valeur) > ELEMENTS_AU_PLUS:
            textes.append(f"et {pluriel(len(valeur) - ELEMENTS_AU_PLUS, 'autre')}")
        return ", ".join(textes) or "—"
    if isinstance(valeur, dict):
        nom = valeur.get("intitule") or valeur.get("nom") or valeur.get("libelle")
        numero = valeur.get("numero")
        if nom is not None:
            return f"{numero} – {nom}" if numero is not None else str(nom)
        return f"n° {numero}" if numero is not None else "—"
    if isinstance(valeur, bool):
        return "oui" if valeur else "non"
    if isinstance(valeur, float):
        return nombre(valeur, 2)
    if isinstance(valeur, int):
        return nombre(valeur)
    if isinstance(valeur, (dt.date, dt.datetime)):
        return date_longue(valeur)
    return "—" if valeur is None else sans_marques(str(valeur))
