"""L'assistant de `dce nouveau` : le questionnaire posé question par question, sans terminal requis.

La logique ne connaît qu'une interface (`demander`, `afficher`) : la commande la branche sur le terminal,
les tests sur une liste de réponses. Le parcours est recalculé à chaque pas à partir des réponses :
conditions d'affichage, éléments des listes, suggestions du SPASER et justifications qu'un refus exige.
Le fichier de réponses n'est écrit qu'après la dernière confirmation, d'un coup ; en attendant, un brouillon
(réponses, décisions, questions vues) est enregistré à chaque section et au Ctrl-C, et la même commande le
reprend : rien n'est perdu. Depuis le récapitulatif, « m » modifie une réponse et y revient.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import yaml

from ..donnees import acheteurs, catalogue, cpv, questionnaire, reponses, yaml_lignes
from ..droit import suggestions
from ..donnees.fichiers import ecrire_atomique
from ..donnees.formats import pluriel
from ..erreurs import ErreurDCE, ErreurDonnees, Probleme
from ..droit.expressions import ErreursJinja, evaluer, message_erreur
from ..donnees.fichiers import nom_sur
from ..donnees.questionnaire import Question, nom_element
from ..droit.regles import analyser
from ..donnees.saisie import (
    INS,
    NON,
    OUI,
    SaisieInvalide,
    afficher,
    attendu,
    ecrire,
    interpreter,
    lire,
    sans_accents,
)
from ..donnees.formats import typographie
from ..droit.suggestions import Suggestion

RETOUR, AIDE, EFFACER, MODIFIER = "<", "?", "-", "m"
SUFFIXE_BROUILLON = ".brouillon.yaml"
SUGGESTIONS = "suggestions"  # pseudo-section des suggestions dans les en-têtes


class Interface(Protocol):
    """Ce dont l'assistant a besoin pour dialoguer."""

    def demander(self, invite: str) -> str: ...

    def afficher(self, texte: str = "") -> None: ...


@dataclass(frozen=True)
class Pas:
    """Une étape du parcours, repérée par une clé stable (« reference », « lots.1.intitule », « lots.+2 »)."""

    cle: str
    genre: str  # question | ajout | details | suggestion
    chemin: str  # réponse (question), liste (ajout), élément (details), id (suggestion)
    section: str
    question: Question | None = None
    suggestion: Suggestion | None = None
    requis: bool = False
    element: str = ""  # « Lot 2 » pour les questions d'un élément de liste


class _Retour(Exception):
    """L'acheteur a demandé la question précédente."""


@dataclass
class _Suite:
    saut: str | None = None  # clé (ou début de clé) où reprendre, au lieu du pas suivant
    automatique: bool = False  # pas franchi sans question : il ne compte pas dans l'historique


class Assistant:
    """Pose le questionnaire, propose les suggestions, récapitule et écrit le fichier de réponses."""

    def __init__(self, racine: Path, interface: Interface, existant: Path | None = None):
        self.racine = racine
        self.q = questionnaire.charger(racine / "questionnaire.yaml")
        self.suggestions = suggestions.charger(self.q.fichier)
        self.justifications = suggestions.justifications(self.suggestions)
        self.ui = interface
        self.existant = existant
        self.donnees: dict[str, Any] = {}
        self.decisions: dict[str, bool] = {}
        self.details: dict[str, bool] = {}
        self._version = 0
        self._cache: tuple[int, dict[str, Any] | None] | None = None
        self._section_affichee: str | None = None
        self._ajout_propose: str | None = None  # pas « ajout » où proposer oui (suggestion acceptée)
        self._avertissements: list[str] = []
        self.brouillon: Path | None = None  # fixé par executer ; enregistré à chaque section et au Ctrl-C
        self._vus: set[str] = set()
        self._historique: list[str] = []
        self.titres = {str(s["id"]): str(s.get("titre", s["id"])) for s in self.q.sections}
        self.titres[SUGGESTIONS] = "Suggestions pour cet achat"
        if existant is not None:
            self._charger(existant)

    # -- affichage
    def dire(self, texte: str = "") -> None:
        self.ui.afficher(typographie(texte))

    def _demander(self, invite: str) -> str:
        reponse = self.ui.demander(typographie(invite) + INS + ":").strip()
        if reponse == RETOUR:
            raise _Retour
        return reponse

    # -- données
    def _charger(self, fichier: Path) -> None:
        doc = yaml_lignes.lire(fichier)
        if not isinstance(doc.donnees, dict):
            raise ErreurDonnees(Probleme("le fichier de réponses doit être un ensemble de champs « clé : valeur »",
                                         fichier, 1))
        self.donnees = copy.deepcopy(doc.donnees)
        for chemin in sorted(self.inconnus(self.donnees, self.q.questions)):
            self._avertissements.append(f"Attention : champ « {chemin} » (ligne {doc.ligne(chemin)}) inconnu du "
                                        "questionnaire, il ne sera pas repris.")
        self._listes_propres(self.donnees, self.q.questions, doc)

    def _listes_propres(self, donnees: dict[str, Any], questions: list[Question], doc: yaml_lignes.Document,
                        prefixe: str = "") -> None:
        """Une liste mal formée du fichier modifié est reprise vide (élément par élément) plutôt que de bloquer."""
        for q in (x for x in questions if x.type == "liste"):
            valeur = lire(donnees, q.id)
            if valeur is None:
                continue
            if not isinstance(valeur, list):
                self._avertissements.append(f"Attention : « {prefixe}{q.id} » (ligne {doc.ligne(prefixe + q.id)}) "
                                            "n'est pas une liste, elle sera ressaisie.")
                ecrire(donnees, q.id, [])
                continue
            for i, element in enumerate(valeur):
                if not isinstance(element, dict):
                    valeur[i] = {}
                else:
                    self._listes_propres(element, q.questions, doc, f"{prefixe}{q.id}.{i}.")

    def inconnus(self, donnees: dict[str, Any], questions: list[Question], prefixe: str = "") -> set[str]:
        connus = {q.id: q for q in questions}
        inconnus: set[str] = set()

        def parcourir(noeud: Any, chemin: str) -> None:
            if chemin in connus:
                q = connus[chemin]
                if q.type == "liste" and isinstance(noeud, list):
                    for i, element in enumerate(noeud):
                        if isinstance(element, dict):
                            inconnus.update(self.inconnus(element, q.questions, f"{prefixe}{chemin}.{i}."))
                return
            if isinstance(noeud, dict) and any(c.startswith(chemin + ".") for c in connus):
                for cle, valeur in noeud.items():
                    parcourir(valeur, f"{chemin}.{cle}")
                return
            inconnus.add(prefixe + chemin)

        for cle, valeur in donnees.items():
            parcourir(valeur, str(cle))
        return inconnus

    def _modifier(self, chemin: str, valeur: Any) -> None:
        ecrire(self.donnees, chemin, valeur)
        self._version += 1

    def _completees(self) -> dict[str, Any]:
        """Réponses données, complétées par les valeurs par défaut (comme à la validation)."""
        donnees = copy.deepcopy(self.donnees)
        reponses.completer(donnees, self.q.questions)
        return donnees

    def contexte(self) -> dict[str, Any] | None:
        """Contexte des règles (réponses, profil, valeurs calculées) pour les suggestions, recalculé après chaque
        réponse ; None tant que les réponses ne suffisent pas aux calculs (un lot en cours de saisie)."""
        if self._cache and self._cache[0] == self._version:
            return self._cache[1]
        donnees = self._completees()
        if donnees.get("criteres") is None:
            donnees["criteres"] = []
        doc = yaml_lignes.Document(donnees, "assistant")
        try:
            contexte: dict[str, Any] | None = analyser(
                reponses.Reponses(donnees, "assistant", doc), acheteurs.charger(self.racine, str(donnees["acheteur"])),
                catalogue.charger(self.racine)).contexte
        except ErreurDCE:
            contexte = None
        self._cache = (self._version, contexte)
        return contexte

    def _condition(self, expression: str, contexte: dict[str, Any], question: Question) -> bool:
        try:
            return bool(evaluer(expression, contexte))
        except ErreursJinja as exc:
            raise ErreurDonnees(Probleme(f"condition de la question « {question.id} » impossible à évaluer : "
                                         f"{message_erreur(exc)}", self.q.fichier)) from None

    # -- parcours
    def parcours(self) -> Iterator[Pas]:
        """Les étapes dans l'ordre, selon les réponses du moment (générateur : évalué au fil de l'eau)."""
        simple = self._completees()
        fixees: set[str] = set()
        for section in self.q.sections:
            sid = str(section["id"])
            for q in (x for x in self.q.questions if x.section == sid):
                if q.id in self.justifications or (q.id in fixees and q.type == "oui_non"):
                    continue
                if q.condition and not self._condition(q.condition, simple, q):
                    continue
                if q.type == "liste":
                    yield from self._parcours_liste(q, q.id, sid)
                else:
                    yield Pas(q.id, "question", q.id, sid, q)
            for s in self.suggestions:
                if s.apres != sid:
                    continue
                contexte = self.contexte()
                if contexte is None or not s.convient(contexte):
                    continue
                fixees.update(s.active)
                yield Pas(f"suggestion:{s.id}", "suggestion", s.id, SUGGESTIONS, suggestion=s)
                if s.justification and self.decisions.get(s.id) is False and s.obligatoire(contexte):
                    yield Pas(s.justification, "question", s.justification, SUGGESTIONS,
                              self.q.question(s.justification), requis=True)

    def _parcours_liste(self, q: Question, chemin: str, sid: str, parent: str = "") -> Iterator[Pas]:
        """Avant chaque élément, un pas « ajout » (clé « lots.+2 » : y a-t-il un 3e lot ?), puis ses questions."""
        elements = lire(self.donnees, chemin)
        elements = elements if isinstance(elements, list) else []
        facultatives = [s for s in q.questions if not s.requis and s.type != "liste"]
        nom_liste = f"{parent} – {q.libelle}" if parent else q.libelle
        yield Pas(f"{chemin}.+0", "ajout", chemin, sid, q, element=nom_liste)
        for i, _ in enumerate(elements):
            base = f"{chemin}.{i}"
            etiquette = f"{parent}, {nom_element(q).lower()} {i + 1}" if parent else f"{nom_element(q)} {i + 1}"
            for s in q.questions:
                if s.requis and s.type != "liste":
                    yield Pas(f"{base}.{s.id}", "question", f"{base}.{s.id}", sid, s, element=etiquette)
            if facultatives:
                yield Pas(f"{base}.*", "details", base, sid, q, element=etiquette)
                if self._details(base, facultatives):
                    for s in facultatives:
                        yield Pas(f"{base}.{s.id}", "question", f"{base}.{s.id}", sid, s, element=etiquette)
            for s in q.questions:
                if s.type == "liste":
                    yield from self._parcours_liste(s, f"{base}.{s.id}", sid, etiquette)
            yield Pas(f"{chemin}.+{i + 1}", "ajout", chemin, sid, q, element=nom_liste)

    def _details(self, base: str, facultatives: list[Question]) -> bool:
        if base not in self.details:
            return any(lire(self.donnees, f"{base}.{s.id}") not in (None, "", []) for s in facultatives)
        return self.details[base]

    def _suivant(self, cle: str, vus: set[str]) -> Pas | None:
        trouve = False
        for pas in self.parcours():
            if trouve:
                return pas
            trouve = pas.cle == cle
        if trouve:
            return None
        return next((p for p in self.parcours() if p.cle not in vus), None)

    def _trouver(self, debut: str) -> Pas | None:
        """Premier pas dont la clé est `debut` ou commence par lui (« lots » → premier pas des lots) ;
        « criteres.+ » : le pas qui ajoute un élément à la fin de la liste."""
        if debut.endswith(".+"):
            debut = f"{debut}{len(lire(self.donnees, debut[:-2]) or [])}"
        for pas in self.parcours():
            if pas.cle == debut or pas.cle.startswith(debut + "."):
                return pas
        return None

    def _aller_a(self, champ: str) -> Pas | None:
        """Pas d'un champ signalé par la validation ; à défaut, celui de son parent le plus proche."""
        morceaux = champ.split(".")
        for i in range(1, len(morceaux)):
            if morceaux[i].isdigit():
                self.details[".".join(morceaux[: i + 1])] = True
        while champ:
            pas = self._trouver(champ)
            if pas is not None:
                return pas
            champ = champ.rpartition(".")[0]
        return None

    # -- boucle principale
    def executer(self, fichier: Path | None = None) -> Path | None:
        """Déroule le questionnaire ; rend le fichier écrit, ou None si l'acheteur renonce à l'écrire.

        Un Ctrl-C (KeyboardInterrupt) enregistre le brouillon avant de remonter à l'appelant."""
        self.brouillon = brouillon_de(fichier or self.existant)
        reprise = self._reprendre_brouillon()
        self._accueil()
        historique, vus = self._historique, self._vus
        pas = next((p for p in self.parcours() if p.cle not in vus), None) if reprise else next(self.parcours(), None)
        retour_recapitulatif = False
        try:
            while True:
                if pas is None:
                    retour_recapitulatif = False
                    try:
                        fin = self._terminer(fichier)
                    except _Retour:
                        pas = self._precedent(historique)
                        continue
                    if isinstance(fin, tuple):  # « m » : modifier une réponse, puis revenir au récapitulatif
                        pas, retour_recapitulatif = fin[1], True
                        continue
                    if isinstance(fin, str):
                        pas = self._aller_a(fin) or self._precedent(historique)
                        continue
                    if fin is not None:
                        self._effacer_brouillon()
                    return fin
                self._entete(pas)
                try:
                    suite = self._poser(pas)
                except _Retour:
                    precedent = self._precedent(historique)
                    if precedent is None:
                        self.dire("  (c'est la première question)")
                    else:
                        pas = precedent
                    continue
                if not suite.automatique:
                    historique.append(pas.cle)
                    vus.add(pas.cle)
                if suite.saut is not None:
                    pas = self._trouver(suite.saut)
                elif retour_recapitulatif:  # seulement les questions que la modification fait apparaître
                    pas = self._suivant_non_vu(pas.cle, vus)
                else:
                    pas = self._suivant(pas.cle, vus)
        except (KeyboardInterrupt, EOFError):
            self.enregistrer_brouillon()
            raise

    def _suivant_non_vu(self, cle: str, vus: set[str]) -> Pas | None:
        trouve = False
        for pas in self.parcours():
            if trouve and pas.cle not in vus:
                return pas
            trouve = trouve or pas.cle == cle
        return None

    # -- brouillon
    def enregistrer_brouillon(self) -> Path | None:
        """Réponses données, décisions sur les suggestions et questions vues, écrites d'un coup."""
        if self.brouillon is None or not (self.donnees or self.decisions):
            return None
        contenu = {"reponses": self.donnees, "decisions": self.decisions, "details": self.details,
                   "vues": sorted(self._vus), "historique": self._historique}
        texte = ("# Brouillon de « dce nouveau » : relancer la même commande pour reprendre la saisie.\n"
                 + yaml.dump(contenu, Dumper=_Ecrivain, allow_unicode=True, sort_keys=False, width=100))
        ecrire_atomique(self.brouillon, texte.encode("utf-8"))
        return self.brouillon

    def _reprendre_brouillon(self) -> bool:
        if self.brouillon is None or not self.brouillon.is_file():
            return False
        try:
            doc = yaml_lignes.lire(self.brouillon)
            brut = doc.donnees if isinstance(doc.donnees, dict) else {}
            donnees = brut.get("reponses")
            assert isinstance(donnees, dict)
        except (ErreurDonnees, AssertionError):
            self.dire(f"Brouillon {self.brouillon} illisible : il est ignoré (et sera remplacé).")
            return False
        vues = [str(v) for v in brut.get("vues") or []]
        if not self._oui_non(f"Un brouillon de cette saisie existe ({self.brouillon}, {len(vues)} réponse"
                             f"{'s' if len(vues) > 1 else ''}) : le reprendre ?", True,
                             lambda: self.dire("  o : reprendre là où la saisie s'est arrêtée ; n : repartir "
                                               "du début (le brouillon sera remplacé).")):
            return False
        self.donnees = copy.deepcopy(donnees)
        self.decisions = {str(k): bool(v) for k, v in (brut.get("decisions") or {}).items()}
        self.details = {str(k): bool(v) for k, v in (brut.get("details") or {}).items()}
        self._vus.update(vues)
        self._historique.extend(str(h) for h in brut.get("historique") or [])
        self._version += 1
        self.dire(f"Brouillon repris : {len(vues)} réponse{'s' if len(vues) > 1 else ''} déjà données.")
        return True

    def _effacer_brouillon(self) -> None:
        if self.brouillon is not None:
            self.brouillon.unlink(missing_ok=True)

    def _precedent(self, historique: list[str]) -> Pas | None:
        while historique:
            cle = historique.pop()
            pas = next((p for p in self.parcours() if p.cle == cle), None)
            if pas is not None:
                return pas
        return None

    def _accueil(self) -> None:
        self.dire("dce nouveau : assistant de rédaction du fichier de réponses d'une consultation.")
        self.dire("Une question à la fois. Entrée seule garde la valeur entre crochets ; « ? » affiche l'aide ; "
                  "« < » revient à la question précédente ; « - » efface une réponse facultative ; "
                  "Ctrl-C interrompt : les réponses sont gardées dans un brouillon que la même commande reprend.")
        if self.existant is not None:
            self.dire(f"Modification de {self.existant} : chaque réponse existante est proposée par défaut.")
        for avertissement in self._avertissements:
            self.dire(avertissement)

    def _entete(self, pas: Pas) -> None:
        if pas.section != self._section_affichee:
            if self._section_affichee is not None:
                self.enregistrer_brouillon()
            self._section_affichee = pas.section
            self.dire("")
            self.dire(f"── {self.titres.get(pas.section, pas.section)} ──")

    def _poser(self, pas: Pas) -> _Suite:
        if pas.genre == "question":
            return self._question(pas)
        if pas.genre == "ajout":
            return self._ajout(pas)
        if pas.genre == "details":
            return self._details_pas(pas)
        return self._suggestion(pas)

    # -- questions
    def _defaut(self, pas: Pas) -> Any:
        q = pas.question
        assert q is not None
        actuel = lire(self.donnees, pas.chemin)
        if actuel is not None:
            return actuel
        if q.d_apres_cpv and self.donnees.get("cpv"):  # nature proposée d'après un code CPV déjà connu
            proposee = cpv.nature_proposee(str(self.donnees["cpv"]), q.d_apres_cpv)
            if proposee in q.choix:
                return proposee
        if q.id == "numero" and pas.element:
            liste = lire(self.donnees, pas.chemin.rsplit(".", 2)[0]) or []
            pris = [e.get("numero") for e in liste if isinstance(e, dict) and isinstance(e.get("numero"), int)]
            position = int(pas.chemin.rsplit(".", 2)[1]) + 1
            return position if position not in pris else max(pris) + 1
        return copy.deepcopy(q.defaut)

    def _invite(self, pas: Pas, defaut: Any) -> str:
        q = pas.question
        assert q is not None
        texte = (f"{pas.element} – " if pas.element else "") + q.libelle
        indications = {"oui_non": ["o/n"], "choix": ["numéro"],
                       "choix_multiple": ["numéros séparés par des virgules, ou « aucun »"]}.get(q.type, [])
        montre = afficher(q, defaut, pour_saisie=True) if defaut not in (None, "") else ""
        if len(montre) > 60:
            montre = montre[:57] + "…"
        if not montre and not (q.requis or pas.requis):
            indications.append("facultatif")
        if indications:
            texte += f" ({', '.join(indications)})"
        return texte + (f" [{montre}]" if montre else "")

    def _question(self, pas: Pas) -> _Suite:
        q = pas.question
        assert q is not None
        requis = q.requis or pas.requis
        defaut = self._defaut(pas)
        if q.type in ("choix", "choix_multiple"):
            for i, libelle in enumerate(q.choix.values(), start=1):
                self.dire(f"    {i}. {libelle}")
        if pas.requis and pas.chemin in self.justifications:
            self.dire(f"  {q.aide}" if q.aide else "  Justification obligatoire.")
        while True:
            brut = self._demander(self._invite(pas, defaut))
            if brut == AIDE:
                self._aide(q, defaut, requis)
                continue
            if q.id == "cpv" and re.search(r"[^\W\d_]", brut):  # un mot : chercher le code dans la nomenclature
                brut = self._chercher_cpv(brut)
                if not brut:
                    continue
            try:
                if brut == "":
                    valeur = interpreter(q, defaut)
                elif brut == EFFACER and not requis:
                    valeur = None
                else:
                    valeur = interpreter(q, brut)
                if requis and valeur in (None, "", []):
                    raise SaisieInvalide("réponse obligatoire")
                self._controler(pas, valeur)
            except SaisieInvalide as exc:
                self.dire(f"  ✗ {exc} (« ? » pour l'aide)")
                continue
            self._modifier(pas.chemin, valeur)
            if pas.chemin == "cpv":
                self._comparer_nature(str(valeur))
            return _Suite()

    def _regle_nature(self) -> tuple[Question | None, dict[str, str]]:
        nature = self.q.question("nature")
        return nature, (nature.d_apres_cpv if nature else {})

    def _chercher_cpv(self, mots: str) -> str:
        """Codes CPV dont le libellé contient les mots (ceux de la nature déjà répondue d'abord) ; le code choisi
        par son numéro, ou "" pour reposer la question."""
        _, regle = self._regle_nature()
        trouves = cpv.chercher(mots, 10, regle, self.donnees.get("nature"))
        if not trouves:
            self.dire(f"  ✗ aucun code CPV ne contient « {mots} » : essayer un autre mot ou les premiers chiffres du code")
            return ""
        self.dire(f"  Codes CPV pour « {mots} » :")
        for i, c in enumerate(trouves, start=1):
            self.dire(f"    {i}. {c.code}  {c.libelle}")
        choix = self._demander(f"Numéro du code retenu (1 à {len(trouves)} ; Entrée : chercher autre chose)").strip()
        if choix.isdigit() and 1 <= int(choix) <= len(trouves):
            return trouves[int(choix) - 1].code
        return ""

    def _comparer_nature(self, code: str) -> None:
        """La nature répondue et celle que le code CPV désigne d'ordinaire : un avis si elles diffèrent."""
        question, regle = self._regle_nature()
        proposee = cpv.nature_proposee(code, regle)
        actuelle = self.donnees.get("nature")
        if question and proposee and actuelle and proposee != actuelle:
            self.dire(f"  ℹ {question.libelle} : le code {code} désigne d'ordinaire « {question.choix.get(proposee, proposee)} », "
                      f"la réponse donnée est « {question.choix.get(actuelle, actuelle)} » ; à vérifier "
                      "(« m » au récapitulatif pour la modifier).")

    def _aide(self, q: Question, defaut: Any, requis: bool) -> None:
        if q.aide:
            self.dire(f"  Aide : {q.aide}")
        self.dire(f"  Réponse attendue : {attendu(q)}.")
        garde = afficher(q, defaut) if defaut not in (None, "") else ""
        self.dire(("  Entrée : garder « " + garde + " »" if garde else "  Entrée : laisser vide")
                  + (" ; « - » : effacer la réponse" if not requis else " ; réponse obligatoire")
                  + " ; « < » : question précédente.")

    def _controler(self, pas: Pas, valeur: Any) -> None:
        """Contrôles qui dépassent la question : profil d'acheteur existant, dates, lots, pondérations."""
        if pas.chemin == "acheteur" and valeur:
            dossier = self.racine / "acheteurs"
            if not (dossier / str(valeur) / "acheteur.yaml").is_file():
                connus = sorted(p.name for p in dossier.iterdir() if (p / "acheteur.yaml").is_file())
                raise SaisieInvalide(f"profil « {valeur} » introuvable ; profils disponibles : {', '.join(connus)}")
        essai = copy.deepcopy(self.donnees)
        ecrire(essai, pas.chemin, valeur)
        reponses.completer(essai, self.q.questions)
        doc = yaml_lignes.Document(essai, "assistant")
        for p in reponses.verifications(essai, doc, self.q):
            if p.champ == pas.chemin:
                raise SaisieInvalide(p.message)

    # -- listes
    def _ajout(self, pas: Pas) -> _Suite:
        """« lots.+k » : y a-t-il un élément de rang k+1 ? Oui le crée (ou le garde), non tronque la liste."""
        q = pas.question
        assert q is not None
        elements = lire(self.donnees, pas.chemin)
        if not isinstance(elements, list):
            elements = []
            self._modifier(pas.chemin, elements)
        rang = int(pas.cle.rsplit("+", 1)[1])
        if rang < (q.min or 0):
            if len(elements) == rang:
                elements.append({})
                self._version += 1
            return _Suite(automatique=True)
        if q.max is not None and rang >= q.max:
            del elements[rang:]
            self._version += 1
            return _Suite(automatique=True)
        existe = len(elements) > rang
        ajouter = self._ajout_propose == pas.cle
        self._ajout_propose = None
        if existe:
            suivants = " et les suivants" if len(elements) > rang + 1 else ""
            invite = f"{pas.element} : garder le n° {rang + 1}{suivants} ? (o/n) [oui]"
        else:
            invite = f"{pas.element} : ajouter un élément n° {rang + 1} ? (o/n) [{'oui' if ajouter else 'non'}]"
        while True:
            brut = self._demander(invite)
            if brut == AIDE:
                self.dire(f"  o : {'garder' if existe else 'décrire'} l'élément n° {rang + 1} ; n : "
                          f"{'le supprimer, ainsi que les suivants, et ' if existe else ''}passer à la suite ; "
                          "-2 : supprimer l'élément n° 2 ; « < » : question précédente.")
                if q.aide:
                    self.dire(f"  Aide : {q.aide}")
                continue
            if brut.startswith("-") and brut[1:].isdigit():
                numero = int(brut[1:])
                if not 1 <= numero <= len(elements) or len(elements) - 1 < (q.min or 0):
                    self.dire(f"  ✗ suppression impossible : {pluriel(elements, 'élément')}, "
                              f"au moins {q.min or 0} {pluriel(q.min or 0, 'exigé', avec_nombre=False)}")
                    continue
                del elements[numero - 1]
                self._version += 1
                self.dire(f"  Élément n° {numero} supprimé.")
                return _Suite(saut=f"{pas.chemin}.+{min(rang, len(elements))}", automatique=True)
            choix = _oui_non(brut, existe or ajouter)
            if choix is None:
                self.dire("  ✗ répondre o (oui) ou n (non) (« ? » pour l'aide)")
                continue
            if choix:
                if not existe:
                    elements.append({})
                    self._version += 1
                return _Suite()
            essai = copy.deepcopy(self.donnees)
            del lire(essai, pas.chemin)[rang:]
            reponses.completer(essai, self.q.questions)
            problemes = reponses.verifications(essai, yaml_lignes.Document(essai, "assistant"), self.q)
            refus = [p for p in problemes if p.champ == pas.chemin]
            if refus:
                for p in refus:
                    self.dire(f"  ✗ {p.message}")
                self.dire("  Retour au premier élément de la liste pour corriger (Entrée garde chaque réponse).")
                return _Suite(saut=f"{pas.chemin}.0", automatique=True)
            del elements[rang:]
            self._version += 1
            if "." not in pas.chemin:
                for p in problemes:
                    if p.champ and not p.champ.startswith(pas.chemin + "."):
                        self.dire(f"  ⚠ {p.libelle or self.q.libelle(p.champ)} : {p.message} (à corriger avant "
                                  "l'enregistrement)")
            return _Suite()

    def _details_pas(self, pas: Pas) -> _Suite:
        q = pas.question
        assert q is not None
        facultatives = [s for s in q.questions if not s.requis and s.type != "liste"]
        defaut = self._details(pas.chemin, facultatives)
        noms = ", ".join(s.libelle.split(" (")[0].lower() for s in facultatives)
        self.details[pas.chemin] = self._oui_non(
            f"{pas.element} – préciser les champs facultatifs ?", defaut,
            lambda: self.dire(f"  Champs facultatifs : {noms}. Sans précision, chacun garde sa valeur par défaut."))
        self._version += 1
        return _Suite()

    def _oui_non(self, invite: str, defaut: bool, aide: Callable[[], None],
                 interdit: Callable[[bool], str | None] | None = None) -> bool:
        """Question oui/non : « ? » appelle `aide` ; `interdit(choix)` donne la raison d'un choix impossible."""
        while True:
            brut = self._demander(f"{invite} (o/n) [{'oui' if defaut else 'non'}]")
            if brut == AIDE:
                aide()
                continue
            choix = _oui_non(brut, defaut)
            raison = "répondre o (oui) ou n (non) (« ? » pour l'aide)" if choix is None else (
                interdit(choix) if interdit else None)
            if raison:
                self.dire(f"  ✗ {raison}")
                continue
            assert choix is not None
            return choix

    # -- suggestions
    def actions_suggestion(self, s: Suggestion) -> str:
        """Les actions du SPASER de l'acheteur que la suggestion ferait compter, chacune avec son niveau."""
        acheteur = acheteurs.charger(self.racine, str(self._completees()["acheteur"]))
        contexte = self.contexte()
        texte = suggestions.actions_lisibles(s, contexte, acheteur.actions_pour) if contexte is not None else ""
        return f"SPASER, {texte}" if texte else "hors du référentiel de l'acheteur"

    def _suggestion(self, pas: Pas) -> _Suite:
        s = pas.suggestion
        contexte = self.contexte()
        assert s is not None and contexte is not None
        obligatoire = s.obligatoire(contexte)
        self.dire(f"Suggestion : {s.titre} ({self.actions_suggestion(s)})")
        self.dire(f"  Pourquoi : {s.raison(contexte)}")
        if obligatoire:
            suite = "un refus doit être justifié" if s.justification else "aucun refus n'est possible"
            self.dire(f"  Obligatoire : {s.reference} ; {suite}.")
        if obligatoire and not s.justification:
            defaut = True
        elif s.revoir:
            defaut = False  # accepter ramène aux questions : par défaut, l'acheteur poursuit
        elif s.id in self.decisions:
            defaut = self.decisions[s.id]
        else:
            defaut = s.retenue(contexte) if self.existant is not None else True

        def aide() -> None:
            for chemin, valeur in s.active.items():
                question = self.q.question(chemin)
                if question is not None:
                    self.dire(f"  Réponse enregistrée : {question.libelle} = {afficher(question, valeur)}")
            if s.revoir:
                self.dire("  Oui : l'assistant revient à la question concernée pour la modifier.")
            if s.reference:
                self.dire(f"  Référence : {s.reference}")

        def interdit(choix: bool) -> str | None:
            return f"refus impossible : {s.reference}" if not choix and obligatoire and not s.justification else None

        choix = self._oui_non("Retenir cette suggestion ?", defaut, aide, interdit)
        self.decisions[s.id] = choix
        self.appliquer(s, choix)
        if choix and s.revoir and s.revoir.endswith(".+"):
            base = s.revoir[:-2]
            self._ajout_propose = f"{base}.+{len(lire(self.donnees, base) or [])}"
        return _Suite(saut=s.revoir if choix and s.revoir else None)

    def appliquer(self, s: Suggestion, retenue: bool) -> None:
        for chemin, valeur in s.active.items():
            question = self.q.question(chemin)
            assert question is not None
            actuelle = lire(self.donnees, chemin)
            if isinstance(valeur, list):
                actuelle = list(actuelle or [])
                nouvelle: Any = (actuelle + [v for v in valeur if v not in actuelle] if retenue
                                 else [v for v in actuelle if v not in valeur])
            elif retenue:
                nouvelle = valeur
            else:
                nouvelle = copy.deepcopy(question.defaut) if actuelle in (None, valeur) else actuelle
            self._modifier(chemin, nouvelle)
        self._version += 1

    # -- fin
    def _acceptees(self) -> set[str]:
        return {c for s in self.suggestions if self.decisions.get(s.id) for c in s.active}

    def sortie(self) -> dict[str, Any]:
        """Réponses à écrire, dans l'ordre du questionnaire ; sans les questions masquées ni les vides."""
        simple = self._completees()
        acceptees = self._acceptees()
        resultat: dict[str, Any] = {}
        for q in self.q.questions:
            if q.condition and q.id not in acceptees and not self._condition(q.condition, simple, q):
                continue
            valeur = self._nettoyer(q, lire(self.donnees, q.id))
            if valeur is None or (valeur in ("", []) and not q.requis):
                continue
            ecrire(resultat, q.id, valeur)
        return resultat

    def _nettoyer(self, q: Question, valeur: Any) -> Any:
        if q.type != "liste" or not isinstance(valeur, list):
            return valeur
        elements = []
        for element in valeur:
            propre = {}
            for s in q.questions:
                v = self._nettoyer(s, element.get(s.id)) if isinstance(element, dict) else None
                if v is not None and not (v in ("", []) and not s.requis):
                    propre[s.id] = v
            elements.append(propre)
        return elements

    def texte_yaml(self) -> str:
        """Fichier de réponses lisible : sections commentées, ordre du questionnaire, dates ISO."""
        donnees = self.sortie()
        lignes = ["# Fichier de réponses écrit par « dce nouveau » (questions : questionnaire.yaml).",
                  "# dce verifier FICHIER : contrôle ; dce expliquer FICHIER : clauses et raisons ;",
                  "# dce generer FICHIER --sortie DOSSIER : RC, CCAP, CCTP et traçabilité."]
        deja: set[str] = set()
        for section in self.q.sections:
            cles = [q.id.split(".")[0] for q in self.q.questions if q.section == section["id"]]
            cles = [c for c in dict.fromkeys(cles) if c in donnees and c not in deja]
            if not cles:
                continue
            lignes += ["", f"# {section.get('titre', section['id'])}"]
            for cle in cles:
                deja.add(cle)
                lignes.append(yaml.dump({cle: donnees[cle]}, Dumper=_Ecrivain, allow_unicode=True, sort_keys=False,
                                        default_flow_style=False, width=100).rstrip())
        return "\n".join(lignes) + "\n"

    def _recapitulatif(self) -> None:
        self._section_affichee = None
        self.dire("")
        self.dire("── Récapitulatif ──")
        donnees = self.sortie()
        for section in self.q.sections:
            lignes: list[str] = []
            for q in (x for x in self.q.questions if x.section == section["id"]):
                valeur = lire(donnees, q.id)
                if valeur is None:
                    continue
                if q.type == "liste":
                    lignes += self._recap_liste(q, valeur, "  ")
                else:
                    lignes.append(f"  {q.libelle} : {afficher(q, valeur)}")
            if lignes:
                self.dire(str(section.get("titre", section["id"])))
                for ligne in lignes:
                    self.dire(ligne)
        retenues = [s.titre for s in self.suggestions if self.decisions.get(s.id)]
        refusees = [s.titre for s in self.suggestions if self.decisions.get(s.id) is False]
        if retenues or refusees:
            self.dire("Suggestions")
            if retenues:
                self.dire(f"  retenues : {' ; '.join(retenues)}")
            if refusees:
                self.dire(f"  refusées : {' ; '.join(refusees)}")

    def _choisir_modification(self) -> Pas | None:
        """La question à modifier, trouvée par les mots de son libellé (« montant », « lot 2 intitulé »)."""
        questions = [p for p in self.parcours() if p.genre == "question" and p.question is not None]
        while True:
            brut = self._demander("Réponse à modifier : des mots de la question (par exemple « montant » ou "
                                  "« lot 2 intitulé » ; Entrée : revenir)")
            if not brut:
                return None
            mots = sans_accents(brut).split()
            trouves = [p for p in questions
                       if all(m in sans_accents(f"{p.element} {p.question.libelle}") for m in mots)][:20]
            if not trouves:
                self.dire(f"  ✗ aucune question ne contient « {brut} »")
                continue
            if len(trouves) == 1:
                return trouves[0]
            for i, p in enumerate(trouves, start=1):
                valeur = afficher(p.question, lire(self.donnees, p.chemin))
                self.dire(f"    {i}. {(p.element + ' – ') if p.element else ''}{p.question.libelle} : {valeur or '—'}")
            numero = self._demander("Numéro de la question")
            if numero.isdigit() and 1 <= int(numero) <= len(trouves):
                return trouves[int(numero) - 1]
            self.dire(f"  ✗ numéro entre 1 et {len(trouves)} attendu")

    def _recap_liste(self, q: Question, elements: list[Any], retrait: str) -> list[str]:
        lignes = []
        nom = nom_element(q)
        for i, element in enumerate(elements, start=1):
            lignes.append(f"{retrait}{nom} {i}")
            for s in q.questions:
                v = element.get(s.id) if isinstance(element, dict) else None
                if v is None:
                    continue
                if s.type == "liste":
                    lignes += self._recap_liste(s, v, retrait + "    ")
                else:
                    lignes.append(f"{retrait}    {s.libelle} : {afficher(s, v)}")
        return lignes

    def _terminer(self, fichier: Path | None) -> Path | str | tuple[str, Pas] | None:
        """Récapitulatif, confirmation, validation complète puis écriture atomique ; (« modifier », pas) si
        l'acheteur choisit une réponse à modifier, le champ à corriger si la validation échoue."""
        self._recapitulatif()
        self.dire("")
        if fichier is None:
            propose = Path(nom_sur(str(self.donnees.get("reference") or "reponses")) + ".yaml")
            brut = self._demander(f"Fichier de réponses à écrire [{propose}]")
            fichier = Path(brut) if brut else propose
        while True:
            brut = self._demander(f"Enregistrer dans {fichier} ? (o/n ; « m » : modifier une réponse ; "
                                  "« < » : revenir) [oui]")
            if brut.casefold() == MODIFIER:
                choisi = self._choisir_modification()
                if choisi is not None:
                    return ("modifier", choisi)
                continue
            choix = _oui_non(brut, True)
            if choix is None:
                self.dire("  o : écrire le fichier ; n : quitter sans écrire le fichier ; « m » : modifier une "
                          "réponse puis revenir ici ; « < » : revenir à la dernière question.")
                continue
            break
        if not choix:
            garde = self.enregistrer_brouillon()
            self.dire("Le fichier de réponses n'est pas écrit." + (f" Les réponses restent dans le brouillon {garde}."
                                                                   if garde else ""))
            return None
        if fichier.exists() and (self.existant is None or fichier.resolve() != self.existant.resolve()):
            if not self._oui_non(f"{fichier} existe déjà : le remplacer ?", False,
                                 lambda: self.dire("  o : remplacer le fichier ; n : quitter sans rien écrire.")):
                self.dire("Rien n'est écrit.")
                return None
        texte = self.texte_yaml()
        try:
            reponses.valider(yaml_lignes.lire_texte(texte, fichier), self.q)
        except ErreurDonnees as exc:
            self.dire("Le fichier ne serait pas valide :")
            for p in exc.problemes:
                self.dire(f"  ✗ {p.libelle or self.q.libelle(p.champ)} : {p.message}" if p.champ else f"  ✗ {p.message}")
            champ = next((p.champ for p in exc.problemes if p.champ), None)
            self.dire("Retour à la question concernée.")
            return champ or ""
        ecrire_atomique(fichier, texte.encode("utf-8"))
        self.dire(f"Réponses écrites dans {fichier}.")
        self.dire(f"Suite : dce verifier {fichier} ; dce expliquer {fichier} ; "
                  f"dce generer {fichier} --sortie sortie/")
        return fichier


def brouillon_de(fichier: Path | None) -> Path:
    """Brouillon d'une saisie : « travaux.yaml » → « travaux.brouillon.yaml », à côté ; sans fichier, dans le
    dossier courant."""
    if fichier is None:
        return Path("dce-nouveau" + SUFFIXE_BROUILLON)
    return fichier.with_name(fichier.name.removesuffix(".yaml").removesuffix(".yml") + SUFFIXE_BROUILLON)


def _oui_non(brut: str, defaut: bool) -> bool | None:
    if brut == "":
        return defaut
    mot = brut.casefold()
    return True if mot in OUI else False if mot in NON else None


class _Ecrivain(yaml.SafeDumper):
    """YAML lisible : éléments de liste indentés sous leur clé."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:  # type: ignore[override]
        return super().increase_indent(flow, False)


def _texte_yaml(dumper: yaml.SafeDumper, valeur: str) -> yaml.Node:
    """Un texte de plusieurs lignes s'écrit en bloc « | », lisible et modifiable à la main."""
    return dumper.represent_scalar("tag:yaml.org,2002:str", valeur, style="|" if "\n" in valeur else None)


_Ecrivain.add_representer(str, _texte_yaml)
