"""Ce que la consultation fait du SPASER : actions mises en œuvre par les clauses retenues, considérations DECP."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..donnees.acheteurs import Action
from ..donnees.catalogue import NIVEAUX
from ..erreurs import ErreurClause, Probleme
from .expressions import ErreursJinja, evaluer, message_erreur
from .regles import Analyse, Selection

SOCIALES = ("Clause sociale", "Critère social", "Marché réservé")
ENVIRONNEMENTALES = ("Clause environnementale", "Critère environnemental")
PAS_SOCIALE = "Pas de considération sociale"
PAS_ENVIRONNEMENTALE = "Pas de considération environnementale"


def _valeurs_decp(valeurs: set[str]) -> dict[str, list[str]]:
    """Les deux champs DECP, dans l'ordre des valeurs du schéma ; « Pas de considération… » s'il n'y en a aucune."""
    sociales = [v for v in SOCIALES if v in valeurs] or [PAS_SOCIALE]
    environnementales = [v for v in ENVIRONNEMENTALES if v in valeurs] or [PAS_ENVIRONNEMENTALE]
    return {"considerationsSociales": sociales, "considerationsEnvironnementales": environnementales}


def _valeurs_des_criteres(analyse: Analyse) -> set[str]:
    """Les critères de jugement sont ceux de la consultation : ils valent pour chaque lot."""
    types = {"environnemental": "Critère environnemental", "social": "Critère social"}
    return {types[c.get("type")] for c in analyse.contexte.get("criteres") or [] if c.get("type") in types}


def considerations_decp(analyse: Analyse) -> dict[str, list[str]]:
    """Valeurs DECP 2.x déduites des clauses retenues et des critères, jamais saisies à la main."""
    valeurs = _valeurs_des_criteres(analyse)
    for s in analyse.retenues():
        valeurs.update(s.clause.decp)
    return _valeurs_decp(valeurs)


def considerations_decp_par_lot(analyse: Analyse) -> dict[int, dict[str, list[str]]]:
    """Valeurs DECP 2.x de chaque lot (un lot est un marché, déclaré à part) : numéro du lot → les deux champs.

    Une clause de portée « lot » ne vaut que pour les lots où sa condition est vraie (insertion, réservation) ;
    une clause de la consultation et les critères de jugement valent pour tous les lots.
    """
    retenues = analyse.retenues()  # une fois, et non pour chaque lot
    communes = _valeurs_des_criteres(analyse)
    for s in retenues:
        if s.clause.portee != "lot":
            communes.update(s.clause.decp)
    par_lot = [s for s in retenues if s.clause.portee == "lot"]
    resultat = {}
    for lot in analyse.contexte["lots"]:
        valeurs = set(communes)
        for s in par_lot:
            if lot["numero"] in s.lots:
                valeurs.update(s.clause.decp)
        resultat[lot["numero"]] = _valeurs_decp(valeurs)
    return resultat


@dataclass(frozen=True)
class LienApplique:
    """Une action du référentiel de l'acheteur, la clause retenue qui s'y rattache et le niveau du lien."""

    action: Action
    selection: Selection
    niveau: str
    # condition « si » du lien, quand il en a une : la fiche dit ce qui a décidé du niveau
    si: str = field(default="", compare=False)

    @property
    def libelle_niveau(self) -> str:
        return NIVEAUX[self.niveau]


def _ordre(analyse: Analyse, liens: list[LienApplique]) -> list[LienApplique]:
    ordre = {ident: i for i, ident in enumerate(analyse.acheteur.actions)}
    return sorted(liens, key=lambda l: (ordre.get(l.action.id, 0), l.selection.clause.document, l.selection.numero))


# Pièces qui portent les exigences du contrat : seule une clause de ces pièces exécute une action (voir `execution`).
PIECES_EXECUTION = ("CCAP", "CCTP")
# Nom, dans les conditions « si », de la fonction qui dit si une clause d'exécution met en œuvre une étiquette.
EXECUTION = "execution"


def _liens_evalues(selections: list[Selection], contexte: dict) -> list[tuple[Selection, object]]:
    """(clause, lien) pour chaque lien dont la condition « si » est vraie pour cette consultation."""
    vrais = []
    for s in selections:
        for lien in s.clause.liens:
            if lien.si:
                try:
                    if not evaluer(lien.si, contexte):
                        continue
                except ErreursJinja as exc:
                    raise ErreurClause(Probleme(f"condition « si » du lien vers l'action {lien.action} de la clause "
                                                f"« {s.clause.id} » impossible à évaluer : {message_erreur(exc)}",
                                                s.clause.fichier, None, "actions")) from None
            vrais.append((s, lien))
    return vrais


def liens_spaser(analyse: Analyse) -> list[LienApplique]:
    """Chaque lien d'une clause retenue vers une action du référentiel, avec son niveau, dans l'ordre du référentiel.

    Un lien restreint par `si` ne vaut que si son expression est vraie pour cette consultation. Les liens des
    clauses d'exécution (CCAP, CCTP) sont évalués d'abord ; ceux des autres pièces (RC : critères, variantes)
    peuvent alors lire `execution('6.2')` : vrai si une clause d'exécution retenue met en œuvre l'étiquette 6.2
    au-delà du droit. Un critère de jugement ne compte ainsi jamais seul (règle de comptage : docs/juriste.md).

    Calculé une fois par analyse (fiche, annexe, manifeste et contrôles le lisent chacun), de nouveau si le choix
    des clauses retenues change."""
    cle = ("liens_spaser", tuple(s.retenue for s in analyse.selections))
    if cle not in analyse.memoire:
        analyse.memoire[cle] = tuple(_liens_spaser(analyse))
    return list(analyse.memoire[cle])


def _liens_spaser(analyse: Analyse) -> list[LienApplique]:
    retenues = analyse.retenues()
    contrat = [s for s in retenues if s.clause.document in PIECES_EXECUTION]
    autres = [s for s in retenues if s.clause.document not in PIECES_EXECUTION]

    def interdite(etiquette: str) -> bool:
        raise ErreurClause(Probleme(f"{EXECUTION}('{etiquette}') ne se lit que dans une clause du RC : une clause "
                                    "du CCAP ou du CCTP est elle-même une clause d'exécution", None, None, "actions"))

    evalues = _liens_evalues(contrat, {**analyse.contexte, EXECUTION: interdite})
    executees = {lien.action for _, lien in evalues if lien.niveau == "mise_en_oeuvre"}
    evalues += _liens_evalues(autres, {**analyse.contexte, EXECUTION: lambda e: str(e) in executees})
    liens: list[LienApplique] = []
    # Un lien déjà vu : même action, même clause, même niveau. Les actions sont celles du référentiel de l'acheteur
    # (une par identifiant) et les sélections celles de l'analyse (une par clause) : l'égalité des dataclasses, que
    # `in` sur la liste testait en comparant champ à champ clauses et actions, est ici l'identité.
    vus: set[tuple[int, int, str]] = set()
    for s, lien in evalues:
        for action in analyse.acheteur.actions_pour(lien.action, s.clause.id):
            cle = (id(action), id(s), lien.niveau)
            if cle not in vus:
                vus.add(cle)
                liens.append(LienApplique(action, s, lien.niveau, lien.si))
    return _ordre(analyse, liens)


def par_niveau(analyse: Analyse) -> dict[str, list[LienApplique]]:
    """Les liens rangés par niveau (mise en œuvre, obligation légale, rappel), chacun dans l'ordre du référentiel."""
    liens = liens_spaser(analyse)
    return {niveau: [l for l in liens if l.niveau == niveau] for niveau in ("mise_en_oeuvre", "obligation_legale", "rappel")}


def actions_mises_en_oeuvre(analyse: Analyse) -> list[tuple[Action, Selection]]:
    """(action, clause) pour chaque lien « mise en œuvre » (au-delà du droit) d'une clause retenue, dans l'ordre du
    référentiel : ce que la consultation fait du SPASER par choix de l'acheteur ou par sa politique d'achat."""
    return [(l.action, l.selection) for l in liens_spaser(analyse) if l.niveau == "mise_en_oeuvre"]


def ordre_actions(idents: set[str] | list[str]) -> list[str]:
    """« 1.2 » avant « 11.4 » : ordre numérique des identifiants d'actions."""
    return sorted(set(idents), key=lambda i: [int(x) if x.isdigit() else x for x in i.split(".")])
