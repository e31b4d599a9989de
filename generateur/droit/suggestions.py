"""Suggestions tirées de l'achat lui-même (section `suggestions` de questionnaire.yaml).

Une suggestion propose une option du SPASER, ou de revoir une réponse, quand la nature, la famille
d'achat, le code CPV, l'objet ou le montant s'y prêtent ; elle dit pourquoi et quelles actions elle
met en œuvre. Quand la loi l'impose à la date de lancement, la refuser exige une justification
enregistrée dans le fichier de réponses. Les expressions lisent le contexte des règles (réponses,
profil `acheteur`, `param('nom')`, valeurs calculées) : aucune règle n'est écrite en Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Template
from jinja2.exceptions import TemplateSyntaxError

from ..donnees import cache, catalogue, saisie, yaml_lignes
from ..donnees import questionnaire as questionnaire_mod
from ..donnees.catalogue import NIVEAUX, Lien, lire_liens
from ..erreurs import ErreurDonnees, Probleme
from .expressions import ENV_EXPRESSIONS, ErreursJinja, compiler, evaluer, message_erreur, verifier_syntaxe
from ..donnees.saisie import SaisieInvalide, interpreter, lire

CHAMPS = {"id", "titre", "apres", "quand", "active", "revoir", "actions", "pourquoi", "obligatoire_si",
          "justification", "reference", "cible", "clauses"}
OBLIGATOIRES = ("id", "titre", "quand", "actions", "pourquoi")
APRES_DEFAUT = "criteres"


@dataclass
class Suggestion:
    """Une proposition à l'acheteur, ce qu'elle enregistre et quand la loi l'impose."""

    id: str
    titre: str
    quand: str
    actions: list[str]
    pourquoi: str
    apres: str = APRES_DEFAUT
    active: dict[str, Any] = field(default_factory=dict)
    revoir: str | None = None
    obligatoire_si: str | None = None
    justification: str | None = None
    reference: str = ""
    cible: str | None = None
    clauses: list[str] = field(default_factory=list)  # clauses qui l'appliquent, retenue : preuve citée par l'annexe
    fichier: Path | None = None
    chemin: str = ""
    lignes: dict[str, int | None] = field(default_factory=dict)
    # les actions avec leur niveau (obligation légale, mise en œuvre, rappel), comme dans l'en-tête d'une clause
    liens: list[Lien] = field(default_factory=list)
    _modele: Template | None = field(default=None, repr=False)

    def _erreur(self, champ: str, exc: BaseException) -> ErreurDonnees:
        return ErreurDonnees(Probleme(f"suggestion « {self.id} » : « {champ} » impossible à évaluer : "
                                      f"{message_erreur(exc)}", self.fichier, self.lignes.get(champ),
                                      f"{self.chemin}.{champ}"))

    def _evaluer(self, champ: str, contexte: dict[str, Any]) -> Any:
        try:
            return evaluer(str(getattr(self, champ)), contexte)
        except ErreursJinja as exc:
            raise self._erreur(champ, exc) from None

    def convient(self, contexte: dict[str, Any]) -> bool:
        """La suggestion s'applique-t-elle à cet achat ?"""
        return bool(self._evaluer("quand", contexte))

    def obligatoire(self, contexte: dict[str, Any]) -> bool:
        """La loi l'impose-t-elle à la date de lancement ?"""
        return bool(self.obligatoire_si) and bool(self._evaluer("obligatoire_si", contexte))

    def niveaux(self, contexte: dict[str, Any]) -> list[tuple[str, str]]:
        """(étiquette, niveau) de chaque action que la suggestion retenue ferait compter dans la fiche SPASER, pour
        cet achat (un lien restreint par `si` ne vaut que si son expression est vraie)."""
        resultat = []
        for lien in self.liens:
            try:
                if lien.si and not evaluer(lien.si, contexte):
                    continue
            except ErreursJinja as exc:
                raise self._erreur("actions", exc) from None
            if (lien.action, lien.niveau) not in resultat:
                resultat.append((lien.action, lien.niveau))
        return resultat

    def raison(self, contexte: dict[str, Any]) -> str:
        """Pourquoi elle est proposée, avec les valeurs de la consultation."""
        if self._modele is None:
            self._modele = ENV_EXPRESSIONS.from_string(self.pourquoi)
        try:
            return " ".join(self._modele.render(contexte).split())
        except ErreursJinja as exc:
            raise self._erreur("pourquoi", exc) from None

    def retenue(self, contexte: dict[str, Any]) -> bool:
        """Les réponses l'appliquent-elles ? (pour `revoir` : la situation qui la motivait a disparu)."""
        if self.active:
            return all(_contient(lire(contexte, chemin), valeur) for chemin, valeur in self.active.items())
        return not self.convient(contexte)


def _contient(actuelle: Any, voulue: Any) -> bool:
    if isinstance(voulue, list):
        return isinstance(actuelle, list) and all(v in actuelle for v in voulue)
    return actuelle == voulue


@dataclass
class Etat:
    """Une suggestion qui convient à une consultation, et ce que l'acheteur en a fait."""

    suggestion: Suggestion
    retenue: bool
    obligatoire: bool
    raison: str
    justification: str

    @property
    def statut(self) -> str:
        if self.retenue:
            return "retenue"
        if self.obligatoire:
            return "refusée, justifiée" if self.justification else "refusée sans justification"
        return "refusée"


def etats(suggestions: list[Suggestion], contexte: dict[str, Any]) -> list[Etat]:
    """Les suggestions qui conviennent à la consultation, avec leur sort."""
    resultat = []
    for s in suggestions:
        if s.convient(contexte):
            justification = " ".join(str(lire(contexte, s.justification) or "").split()) if s.justification else ""
            resultat.append(Etat(s, s.retenue(contexte), s.obligatoire(contexte), s.raison(contexte), justification))
    return resultat


def justifications(suggestions: list[Suggestion]) -> set[str]:
    """Réponses qui ne se remplissent qu'au refus d'une suggestion."""
    return {s.justification for s in suggestions if s.justification}


@lru_cache(maxsize=8)
def charger(fichier: Path) -> list[Suggestion]:
    """Lit et vérifie la section `suggestions` du questionnaire ; tous les problèmes d'un coup, avec leur ligne.
    D'une commande à l'autre, les suggestions vérifiées sont gardées dans le cache disque sous l'empreinte du
    questionnaire et du code qui les lit (des suggestions invalides ne le sont jamais)."""
    try:
        octets = Path(fichier).read_bytes()
    except OSError:
        return _charger(fichier)
    from . import expressions

    cle = cache.empreinte(str(fichier), octets, cache.sources(__file__, questionnaire_mod.__file__, yaml_lignes.__file__,
                                                             catalogue.__file__, saisie.__file__, expressions.__file__))
    return cache.objet("suggestions", cle, lambda: _charger(fichier))


def _charger(fichier: Path) -> list[Suggestion]:
    q = questionnaire_mod.charger(fichier)
    doc = yaml_lignes.lire(fichier, garder=True)
    brut = (doc.donnees or {}).get("suggestions") or []
    problemes: list[Probleme] = []

    def pb(message: str, chemin: str) -> None:
        problemes.append(Probleme(message, fichier, doc.ligne(chemin), chemin))

    if not isinstance(brut, list):
        pb("la section doit être une liste de suggestions", "suggestions")
        raise ErreurDonnees(problemes)
    sections = {str(s.get("id")) for s in q.sections}
    questions = {x.id: x for x in q.questions}
    liste: list[Suggestion] = []
    vus: set[str] = set()
    for i, s in enumerate(brut):
        chemin = f"suggestions.{i}"
        if not isinstance(s, dict):
            pb("une suggestion est un ensemble de champs", chemin)
            continue
        avant = len(problemes)
        for champ in sorted(set(s) - CHAMPS):
            pb(f"champ inconnu « {champ} » ({', '.join(sorted(CHAMPS))})", f"{chemin}.{champ}")
        for champ in OBLIGATOIRES:
            if s.get(champ) in (None, "", []):
                pb(f"champ obligatoire « {champ} » manquant", chemin)
        ident = str(s.get("id", ""))
        if not re.fullmatch(r"[a-z0-9_]+", ident):
            pb("identifiant invalide (minuscules, chiffres et _)", f"{chemin}.id")
        if ident in vus:
            pb(f"suggestion « {ident} » en double", f"{chemin}.id")
        vus.add(ident)
        if s.get("apres", APRES_DEFAUT) not in sections:
            pb(f"section « {s.get('apres')} » inconnue ({', '.join(sorted(sections))})", f"{chemin}.apres")
        active = s.get("active") or {}
        if not isinstance(active, dict):
            pb("« active » doit associer des réponses à leur valeur", f"{chemin}.active")
            active = {}
        for cible, valeur in active.items():
            question = questions.get(str(cible))
            if question is None or question.type == "liste":
                pb(f"réponse « {cible} » absente du questionnaire (ou liste)", f"{chemin}.active")
                continue
            try:
                interpreter(question, valeur)
            except SaisieInvalide as exc:
                pb(f"valeur de « {cible} » invalide : {exc}", f"{chemin}.active")
        revoir = s.get("revoir")
        if revoir is not None:
            base = str(revoir).removesuffix(".+")
            if base not in questions or (str(revoir).endswith(".+") and questions[base].type != "liste"):
                pb(f"question à revoir « {revoir} » absente du questionnaire", f"{chemin}.revoir")
        if not active and revoir is None:
            pb("ni « active » (réponses enregistrées) ni « revoir » (question à reprendre)", chemin)
        justification = s.get("justification")
        if justification is not None:
            question = questions.get(str(justification))
            if question is None or question.type not in ("texte", "texte_long"):
                pb(f"justification « {justification} » : question texte absente du questionnaire",
                   f"{chemin}.justification")
            if not s.get("obligatoire_si"):
                pb("une justification suppose « obligatoire_si »", f"{chemin}.justification")
        for champ in ("quand", "obligatoire_si"):
            if s.get(champ):
                try:
                    compiler(str(s[champ]))
                except TemplateSyntaxError as exc:
                    pb(f"expression illisible : {exc.message}", f"{chemin}.{champ}")
        try:
            verifier_syntaxe(str(s.get("pourquoi", "")))
        except TemplateSyntaxError as exc:
            pb(f"modèle illisible : {exc.message}", f"{chemin}.pourquoi")
        # actions du SPASER rangées par niveau, comme l'en-tête d'une clause (donnees.catalogue.lire_liens)
        liens = lire_liens(s.get("actions"), lambda message, champ: pb(message, f"{chemin}.{champ}"))
        for lien in liens:
            if lien.si:
                try:
                    compiler(lien.si)
                except TemplateSyntaxError as exc:
                    pb(f"condition « si » de l'action {lien.action} illisible : {exc.message}", f"{chemin}.actions")
        if not isinstance(s.get("clauses", []), list) or not all(isinstance(c, str) and c for c in s.get("clauses", [])):
            pb("« clauses » : liste des identifiants des clauses qui appliquent la suggestion", f"{chemin}.clauses")
        if len(problemes) > avant:
            continue
        liste.append(Suggestion(
            id=ident, titre=str(s["titre"]), quand=str(s["quand"]),
            actions=list(dict.fromkeys(l.action for l in liens)), liens=liens,
            pourquoi=str(s["pourquoi"]), apres=str(s.get("apres", APRES_DEFAUT)),
            active={str(k): interpreter(questions[str(k)], v) for k, v in active.items()},
            revoir=str(revoir) if revoir is not None else None,
            obligatoire_si=str(s["obligatoire_si"]) if s.get("obligatoire_si") else None,
            justification=str(justification) if justification else None, reference=str(s.get("reference", "")),
            cible=str(s["cible"]) if s.get("cible") else None, clauses=list(s.get("clauses", [])),
            fichier=fichier, chemin=chemin,
            lignes={champ: doc.ligne(f"{chemin}.{champ}") for champ in CHAMPS},
        ))
    if problemes:
        raise ErreurDonnees(problemes)
    return liste


def actions_lisibles(s: Suggestion, contexte: dict[str, Any], actions_pour: Any = None) -> str:
    """Les actions de la suggestion et leur niveau, en français : « mise en œuvre au-delà du droit : actions 6.2 et
    6.3 ; obligation légale : action 1.2 ». `actions_pour(étiquette)` traduit une étiquette du catalogue dans le
    référentiel de l'acheteur (Acheteur.actions_pour) ; sans lui, les étiquettes sont dites telles quelles."""
    par_niveau: dict[str, list[str]] = {}
    for etiquette, niveau in s.niveaux(contexte):
        idents = [a.id for a in actions_pour(etiquette)] if actions_pour else [etiquette]
        liste = par_niveau.setdefault(niveau, [])
        liste.extend(i for i in idents if i not in liste)
    morceaux = []
    for niveau in ("mise_en_oeuvre", "obligation_legale", "rappel"):
        idents = par_niveau.get(niveau)
        if idents:
            nom = "action " if len(idents) == 1 else "actions "
            morceaux.append(f"{NIVEAUX[niveau]} : {nom}" + (", ".join(idents[:-1]) + " et " + idents[-1]
                                                            if len(idents) > 1 else idents[0]))
    return " ; ".join(morceaux)
