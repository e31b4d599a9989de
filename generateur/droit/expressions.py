"""Évaluation sûre des règles et des clauses : Jinja en bac à sable, variables indéfinies interdites.

Les juristes écrivent conditions et calculs comme des expressions Jinja ; rien n'est passé à
`eval`. Les valeurs saisies par l'acheteur sont des données : le rendu des clauses les
échappe pour Markdown avant que Markdown ne les voie.

Une clause peut venir d'ailleurs (clausier importé, collègue) : le bac à sable ne laisse lire que des
attributs de données (dictionnaires, listes, textes, nombres, dates), ne laisse rien modifier, et borne
le temps, la taille des nombres et des textes, et la profondeur des appels d'un rendu.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import importlib.util
import marshal
import os
import re
import signal
import _signal
import threading
import time
from collections import ChainMap
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from types import BuiltinFunctionType, CodeType, FunctionType
from typing import Any, Callable, Iterator

import jinja2
from jinja2 import StrictUndefined, Template, nodes
from jinja2.bccache import bc_magic
from jinja2.environment import TemplateExpression
from jinja2.parser import Parser
from jinja2.exceptions import TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.runtime import Context, LoopContext, Macro, Undefined, missing
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError, safe_range
from jinja2.utils import Cycler, Joiner, Namespace, consume

from ..donnees import cache
from ..donnees.fichiers import ecrire_atomique
from ..donnees.formats import FILTRES


class MarkdownSur(str):
    """Texte Markdown produit par le moteur (et non saisi) : il n'est pas échappé."""


_ECHAPPER = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~])")
_CONTROLES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Tout caractère que echapper_markdown retire, joint ou échappe (contrôles, retours à la ligne, &, <, _ECHAPPER).
_A_TRAITER = re.compile(r"[\x00-\x1f\x7f&<\\`*_{}\[\]()#+\-.!|>~]")


def echapper_markdown(valeur: Any) -> Any:
    """Rend une valeur inerte pour Markdown : elle apparaîtra telle quelle dans le document."""
    if valeur is None or isinstance(valeur, MarkdownSur):
        return "" if valeur is None else valeur
    if isinstance(valeur, bool):
        return "oui" if valeur else "non"
    if isinstance(valeur, (int, float)):
        return valeur
    texte = str(valeur)
    if len(texte) > LIMITE_TAILLE:  # avant toute mise en forme : celle d'un texte énorme n'est pas interruptible
        raise LimiteDepassee(f"texte trop long ({len(texte)} caractères, au plus {LIMITE_TAILLE})")
    if _A_TRAITER.search(texte) is None:  # rien à retirer, joindre ni échapper : le texte tel quel
        return texte
    texte = _CONTROLES.sub("", texte)
    if "\n" in texte:
        texte = _joindre_lignes(texte)
    texte = texte.replace("&", "&amp;").replace("<", "&lt;")
    return _ECHAPPER.sub(r"\\\1", texte)


# Seuls ces objets ont des attributs lisibles depuis une clause, une règle ou un calcul : des données, et
# les objets de Jinja lui-même (`loop`, `namespace`, macros). Tout autre objet du contexte (une fonction
# comme `param` ou `article`) s'appelle mais ne se visite pas.
_DONNEES = (dict, list, tuple, str, int, float, decimal.Decimal, dt.date, dt.time, dt.timedelta, type(None),
            LoopContext, Namespace, Cycler, Joiner, Macro, Undefined)

# Bornes d'un rendu ou d'une évaluation : aucune clause réelle n'en approche.
LIMITE_SECONDES = 5.0
LIMITE_CHIFFRES_BINAIRES = 100_000  # résultat d'une puissance ou d'un produit d'entiers (≈ 30 000 chiffres)
LIMITE_TAILLE = 2_000_000  # caractères ou éléments d'un texte, d'une liste ou du rendu d'une clause
LIMITE_ITERATIONS = 1_000_000  # éléments de tous les range() d'un même rendu


class LimiteDepassee(Exception):
    """Un rendu ou une évaluation dépasse les bornes du bac à sable (temps, taille)."""


_compteurs = threading.local()


def _borne_range(*args: int) -> range:
    """range() du bac à sable, dont le total par rendu est borné (boucles imbriquées)."""
    etendue = safe_range(*args)
    total = getattr(_compteurs, "iterations", 0) + len(etendue)
    _compteurs.iterations = total
    if total > LIMITE_ITERATIONS:
        raise LimiteDepassee(f"boucles trop longues (plus de {LIMITE_ITERATIONS} tours)")
    return etendue


def _taille(valeur: Any) -> int:
    return len(valeur) if isinstance(valeur, (str, list, tuple)) else 0


class _CacheCode:
    """Cache disque des modèles compilés (code objet Python produit par Jinja), partagé par les processus de
    l'utilisateur.

    Compiler les quelque 400 clauses, conditions et messages d'une consultation coûte ≈ 0,4 s à chaque commande ;
    relire leur code, quelques millisecondes. Dossier : `jinja/` du cache de l'utilisateur (`donnees/cache.py` :
    privé, désactivable par `DCE_CACHE=0`), un fichier par texte compilé (le code objet, par `marshal`), nommé par
    l'empreinte du texte, de la configuration de l'environnement et des versions de Jinja et de Python : un texte
    modifié, une autre version, et l'entrée est recompilée. Le fichier est lu d'un bloc et décodé par
    `marshal.loads` : `marshal.load` sur un fichier ouvert (ce que fait le cache de Jinja) lit morceau par morceau,
    trois fois plus lentement.

    Les codes servis à une commande sont aussi gardés tous ensemble (`cache.Memoire`, un seul fichier relu d'un
    bloc) : la commande suivante n'ouvre plus un fichier par texte (≈ 400 par consultation, ≈ 4 ms) ; un texte qui
    n'y est pas (nouveau, ou écarté par les bornes de la mémoire) est lu dans son fichier, puis gardé avec les autres.
    """

    def __init__(self, dossier: str) -> None:
        self.dossier = dossier
        self.version = f"{jinja2.__version__}\0{bc_magic!r}\0{importlib.util.MAGIC_NUMBER!r}"
        self.memoire = cache.Memoire("jinja", cache.empreinte(self.version, self.dossier), 8192)

    def _fichier(self, nom: str) -> str:
        return f"{self.dossier}{os.sep}{nom}.jinja"

    def lire(self, nom: str) -> CodeType | None:
        octets = self.memoire.lire(nom)
        garde = octets is not None
        if not garde:
            try:
                with open(self._fichier(nom), "rb") as flux:
                    octets = flux.read()
            except OSError:
                return None
        code = cache.code_lu(octets)
        if code is not None and not garde:
            self.memoire.ecrire([(nom, octets)])
        return code

    def ecrire(self, nom: str, code: CodeType) -> None:
        try:
            octets = marshal.dumps(code)
            self.memoire.ecrire([(nom, octets)])
            ecrire_atomique(Path(self._fichier(nom)), octets, durable=False)
        except (OSError, ValueError):  # cache plein ou en lecture seule : on s'en passe
            pass


def _cache_compilation() -> _CacheCode | None:
    """Le cache disque des modèles compilés (voir `_CacheCode`) ; None si le cache est désactivé ou pas sûr."""
    dossier = cache.dossier("jinja")
    return _CacheCode(str(dossier)) if dossier is not None else None


# Types d'objets appelables du moteur (regles.Parametres) : ni `unsafe_callable`, ni `alters_data`, ni `jinja_pass_arg`
# (sur eux, leur classe ou leur __call__), à aucune instance ; BacASable.call les appelle directement.
APPELS_DIRECTS: set[type] = set()
_ATTRIBUTS_DICT = frozenset(dir(dict))  # ce que getattr trouve sur un dictionnaire (items, get, keys…)


class BacASable(ImmutableSandboxedEnvironment):
    """Bac à sable de dce : attributs de données seulement, rien de modifiable, nombres et textes bornés."""

    intercepted_binops = frozenset({"*", "**"})

    def _signature(self) -> str:
        """Ce qui, dans l'environnement, change le code compilé d'un même texte."""
        signature = getattr(self, "_signature_calculee", None)
        if signature is None:
            finalize = getattr(self.finalize, "__qualname__", None)
            signature = repr((type(self).__qualname__, self.autoescape, finalize, self.trim_blocks,
                              self.lstrip_blocks, self.keep_trailing_newline, sorted(self.filters),
                              sorted(self.tests), sorted(self.intercepted_binops),
                              sorted(self.intercepted_unops)))
            self._signature_calculee = signature
        return signature

    def _code(self, nature: str, source: str, compiler: Callable[[], Any]) -> Any:
        """Le code compilé de `source`, lu dans le cache disque s'il y est (voir `_CacheCode`)."""
        disque = _CACHE["disque"]
        if disque is None:
            return compiler()
        nom = hashlib.sha256(f"{disque.version}\0{self._signature()}\0{nature}\0{source}".encode()).hexdigest()
        code = disque.lire(nom)
        if code is None:
            code = compiler()
            disque.ecrire(nom, code)
        return code

    def compile(self, source, name=None, filename=None, raw=False, defer_init=False):  # type: ignore[override]
        if isinstance(source, str) and name is None and filename is None and not raw and not defer_init:
            return self._code("modele", source, lambda: super(BacASable, self).compile(source))
        return super().compile(source, name, filename, raw, defer_init)

    def compile_expression(self, source: str, undefined_to_none: bool = True) -> TemplateExpression:
        def compiler() -> Any:
            parser = Parser(self, source, state="variable")
            try:
                expr = parser.parse_expression()
                if not parser.stream.eos:
                    raise TemplateSyntaxError("chunk after expression", parser.stream.current.lineno, None, None)
                expr.set_environment(self)
            except TemplateSyntaxError:
                self.handle_exception(source=source)
            corps = [nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)]
            return super(BacASable, self).compile(nodes.Template(corps, lineno=1))

        code = self._code("expression", source, compiler)
        modele = self.template_class.from_code(self, code, self.make_globals(None))
        return TemplateExpression(modele, undefined_to_none)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        """Un appel depuis une expression ou une clause. `SandboxedEnvironment.call` puis `Context.call` cherchent sur
        l'objet (et sur son `__call__`) les attributs `unsafe_callable`, `alters_data` (appel refusé) et
        `jinja_pass_arg` (contexte ou environnement passé en premier argument), avant de l'appeler. Un objet qui ne
        peut pas les avoir est appelé directement, même résultat : `param` (type de APPELS_DIRECTS), une méthode de
        données (`date_limite_offres.date()`, `dict.get`), une fonction sans attribut (`article`, `retenue`,
        `renvoi`… de contexte_clause) ; quelque 150 appels par consultation."""
        genre = type(__obj)
        if (genre in APPELS_DIRECTS or genre is BuiltinFunctionType or (genre is FunctionType and not __obj.__dict__)) \
                and "_loop_vars" not in kwargs and "_block_vars" not in kwargs:
            try:
                return __obj(*args, **kwargs)
            except StopIteration:  # comme Context.call
                return __self.undefined("value was undefined because a callable raised a StopIteration exception")
        return super().call(__context, __obj, *args, **kwargs)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return isinstance(obj, _DONNEES) and super().is_safe_attribute(obj, attr, value)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`lot.montant_estime` : sur un dictionnaire (les réponses, les paramètres), un nom qui n'est pas un attribut
        de dict est lu comme un élément, directement ; `SandboxedEnvironment.getattr` en arrivait au même résultat
        après avoir levé et rattrapé AttributeError, pour chaque nom lu par chaque expression et chaque clause."""
        if type(obj) is dict and type(attribute) is str and attribute not in _ATTRIBUTS_DICT and attribute[:1] != "_":
            try:
                return obj[attribute]
            except (TypeError, LookupError):
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0 \
                and abs(left) > 1 and right * abs(left).bit_length() > LIMITE_CHIFFRES_BINAIRES:
            raise LimiteDepassee("puissance trop grande")
        if operator == "*":
            if isinstance(left, int) and isinstance(right, int) \
                    and left.bit_length() + right.bit_length() > LIMITE_CHIFFRES_BINAIRES:
                raise LimiteDepassee("produit trop grand")
            for sequence, facteur in ((left, right), (right, left)):
                if _taille(sequence) and isinstance(facteur, int) and _taille(sequence) * facteur > LIMITE_TAILLE:
                    raise LimiteDepassee(f"texte ou liste trop long (plus de {LIMITE_TAILLE} éléments)")
        return super().call_binop(context, operator, left, right)


def _cartes(table: Any) -> tuple[Any, ...]:
    """Les dictionnaires d'un ChainMap (imbriqués compris), dans l'ordre où il les lit."""
    if type(table) is not ChainMap:
        return (table,)
    cartes: list[Any] = []
    for sous in table.maps:  # sans générateur : un rendu de clause ou de message en construit un à chaque fois
        if type(sous) is ChainMap:
            cartes.extend(_cartes(sous))
        else:
            cartes.append(sous)
    return tuple(cartes)


def _noms_globaux(globals: Any) -> set[str]:
    return set().union(*globals.maps) if type(globals) is ChainMap else set(globals)


class ContexteDirect(Context):
    """Contexte Jinja dont les variables sont lues directement dans les dictionnaires d'un `ChainMap` (le contexte
    de dce, puis les variables globales) : `Context.resolve_or_missing` passe par `ChainMap.__contains__` puis
    `__getitem__`, deux parcours écrits en Python, pour chaque nom lu par chaque expression. Même résultat : le
    premier dictionnaire qui a la clé."""

    def __init__(self, environment: Any, parent: Any, name: str | None, blocks: dict[str, Any],
                 globals: Any = None, globales: tuple[set[str], tuple[Any, ...]] | None = None) -> None:
        super().__init__(environment, parent, name, blocks)
        if globales is not None:  # parent = ChainMap(variables, globals), globales = _globales(globals) (ModeleBorne)
            self.globals_keys = globales[0]  # lu seulement par Jinja ({% import %}, que dce n'a pas)
            self._cartes = (parent.maps[0], *globales[1])
            return
        if globals is not None:  # les variables globales d'un modèle : ChainMap, que set() parcourrait en Python
            self.globals_keys = _noms_globaux(globals)
        self._cartes = _cartes(parent)

    def resolve_or_missing(self, key: str) -> Any:
        variables = self.vars
        if key in variables:
            return variables[key]
        for carte in self._cartes:
            if key in carte:
                return carte[key]
        return missing


class ModeleBorne(Template):
    """Modèle dont le rendu est borné en temps et en taille (voir `_armer`)."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        arme = _armer()
        try:
            if len(args) == 1 and not kwargs and type(args[0]) is dict:
                texte = self._rendre(args[0])
            else:
                texte = super().render(*args, **kwargs)
        finally:
            _desarmer(arme)
        if len(texte) > LIMITE_TAILLE:
            raise LimiteDepassee(f"texte rendu trop long ({len(texte)} caractères, au plus {LIMITE_TAILLE})")
        return texte

    def _rendre(self, variables: dict[str, Any]) -> str:
        """`Template.render(variables)` sans recopier `variables` : Jinja en fait deux copies par rendu (`dict()`, puis
        `dict(globals, **vars)`), pour des contextes de plusieurs centaines de réponses et de calculs rendus des
        centaines de fois par consultation (clauses, messages des contrôles). Le contexte lit `variables`, puis les
        variables globales du modèle, dans l'ordre où la copie les ferait prévaloir ; rien n'y écrit pendant le rendu."""
        env = self.environment
        # noms et dictionnaires des variables globales du modèle, relevés une fois par modèle (et non à chaque rendu :
        # clauses, messages des contrôles) ; les dictionnaires sont lus tels qu'ils sont au moment du rendu
        globales = self.__dict__.get("_globales")
        if globales is None or globales[0] is not self.globals:
            globales = self._globales = (self.globals, _noms_globaux(self.globals), _cartes(self.globals))
        contexte = env.context_class(env, ChainMap(variables, self.globals), self.name, self.blocks,  # type: ignore[arg-type]
                                     globals=self.globals, globales=globales[1:])
        try:
            return env.concat(self.root_render_func(contexte))  # type: ignore[attr-defined]
        except Exception:
            env.handle_exception()


def _temps_depasse(signum: int, frame: Any) -> None:
    """Gestionnaire de SIGALRM. Hors d'un lot d'évaluations, l'alarme ne sonne que pendant un rendu ou une évaluation
    (la minuterie est désarmée après chacun) : il est trop long. Dans un lot (voir `lot_d_evaluations`), la minuterie
    reste armée d'une évaluation à l'autre : le rendu ou l'évaluation en cours n'est trop long que s'il a commencé il
    y a LIMITE_SECONDES ou plus, sinon l'alarme est repoussée à cette échéance ; sans rien en cours, elle s'éteint
    (la prochaine évaluation la réarme)."""
    if _minuterie["lot"]:
        if not _minuterie["armee"]:
            _minuterie["active"] = False
            return
        reste = _minuterie["debut"] + LIMITE_SECONDES - time.monotonic()
        if reste > 0:
            signal.setitimer(signal.ITIMER_REAL, reste)
            return
        _minuterie["active"] = False  # éteinte : la prochaine évaluation du lot la réarme
    raise LimiteDepassee(f"calcul trop long (plus de {LIMITE_SECONDES:g} s)")


# armee : un rendu ou une évaluation bornés est en cours (celui qui a armé) ; lot : profondeur des lots
# d'évaluations ouverts ; active : la minuterie d'un lot court ; debut : instant où le rendu ou l'évaluation en
# cours a commencé (dans un lot). Fil principal seulement.
_minuterie: dict[str, Any] = {"armee": False, "lot": 0, "active": False, "debut": 0.0}
_CACHE: dict[str, _CacheCode | None] = {"disque": _cache_compilation()}
_SIGALRM = getattr(signal, "SIGALRM", None) if hasattr(signal, "setitimer") else None


def _minuterie_disponible() -> bool:
    """Vrai sous Unix, dans le fil principal, si SIGALRM est à dce (gestionnaire posé ici, une fois pour toutes) ou
    libre ; faux si le programme qui appelle dce se sert lui-même de SIGALRM."""
    if not _SIGALRM or threading.get_ident() != threading.main_thread().ident:
        return False
    gestionnaire = _signal.getsignal(_SIGALRM)  # signal.getsignal convertit en énumération : dix fois plus lent
    if gestionnaire is not _temps_depasse:
        if gestionnaire != signal.SIG_DFL:
            return False
        signal.signal(_SIGALRM, _temps_depasse)
    return True


def _armer() -> bool:
    """Début d'un rendu ou d'une évaluation : remet à zéro le compte des tours de boucle ; sous Unix, dans le fil
    principal, arme une minuterie SIGALRM de LIMITE_SECONDES (sauf si un rendu englobant l'a déjà armée, ou si le
    programme qui appelle dce se sert lui-même de SIGALRM). Ailleurs (Windows, fils du serveur web), le compte des
    tours, les bornes des nombres et des textes et celle de la récursion restent les garde-fous. Dans un lot
    d'évaluations (`lot_d_evaluations`), la minuterie déjà armée sert encore : armer ne coûte que la lecture de
    l'heure (sans appel système), l'évaluation étant sur le chemin chaud."""
    _compteurs.iterations = 0
    if _minuterie["armee"]:
        return False
    if _minuterie["lot"] and threading.get_ident() == _minuterie["fil"]:
        _minuterie["debut"] = time.monotonic()  # avant « armee » : le gestionnaire ne lit jamais un début périmé
        _minuterie["armee"] = True
        if not _minuterie["active"]:
            _minuterie["active"] = True
            signal.setitimer(signal.ITIMER_REAL, LIMITE_SECONDES)
        return True
    if not _minuterie_disponible():
        return False
    signal.setitimer(signal.ITIMER_REAL, LIMITE_SECONDES)
    _minuterie["armee"] = True
    return True


def _desarmer(arme: bool) -> None:
    if arme:
        if not _minuterie["lot"]:
            signal.setitimer(signal.ITIMER_REAL, 0)
        _minuterie["armee"] = False  # dans un lot, la minuterie court encore : le gestionnaire l'éteindra


@contextmanager
def lot_d_evaluations() -> Iterator[None]:
    """Lot d'évaluations et de rendus (les calculs et les conditions d'une analyse, les contrôles d'une
    consultation) : la minuterie de chaque rendu ou évaluation n'est armée et désarmée qu'une fois pour le lot, au
    lieu de deux appels système par évaluation ; chacun reste borné à LIMITE_SECONDES depuis son propre début (voir
    `_temps_depasse`). Sans effet hors du fil principal, sans SIGALRM, dans un lot englobant ou pendant un rendu."""
    if _minuterie["lot"] or _minuterie["armee"] or not _minuterie_disponible():
        yield
        return
    _minuterie["fil"] = threading.get_ident()
    _minuterie["lot"] = 1
    try:
        yield
    finally:
        _minuterie["lot"] = 0
        if _minuterie["active"]:
            _minuterie["active"] = False
            signal.setitimer(signal.ITIMER_REAL, 0)


def _joindre_lignes(texte: str) -> str:
    """Chaque retour à la ligne et les blancs qui l'entourent deviennent une espace ; en temps linéaire (une
    expression « \\s*\\n\\s* » est quadratique sur une longue suite d'espaces)."""
    premiere, *milieu, derniere = texte.split("\n")
    return " ".join([premiere.rstrip(), *(m.strip() for m in milieu if not m.isspace() and m), derniere.lstrip()])


def _environnement(finalize: Callable[[Any], Any] | None = None) -> BacASable:
    env = BacASable(
        undefined=StrictUndefined,
        autoescape=False,
        finalize=finalize,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTRES)
    env.template_class = ModeleBorne
    env.context_class = ContexteDirect
    env.globals["range"] = _borne_range
    del env.globals["lipsum"]  # texte de remplissage de taille arbitraire : inutile à une clause
    return env


ENV_EXPRESSIONS = _environnement()
ENV_CLAUSES = _environnement(finalize=echapper_markdown)

ErreursJinja = (TemplateError, SecurityError, TypeError, ValueError, ZeroDivisionError, KeyError,
                AttributeError, IndexError, OverflowError, LimiteDepassee, MemoryError, RecursionError)


@lru_cache(maxsize=4096)
def compiler(expression: str) -> Callable[..., Any]:
    """Compile une expression (mise en cache : les règles sont évaluées des milliers de fois)."""
    return ENV_EXPRESSIONS.compile_expression(expression, undefined_to_none=False)


_CONTEXTES = threading.local()


def _contexte_jinja(contexte: dict[str, Any]) -> Context:
    """Le contexte Jinja d'une évaluation : `contexte` lu tel qu'il est au moment de l'évaluation (ChainMap, sans
    copie), puis les variables globales de l'environnement, comme le ferait `TemplateExpression.__call__` qui
    recopie à chaque appel le dictionnaire entier (un dixième du temps d'une régénération). Réutilisé tant que
    le dictionnaire est le même objet ; un par fil."""
    dernier = getattr(_CONTEXTES, "dernier", None)
    if dernier is not None and dernier[0] is contexte:
        jinja = dernier[1]
    else:
        jinja = ContexteDirect(ENV_EXPRESSIONS, ChainMap(contexte, ENV_EXPRESSIONS.globals), None, {},  # type: ignore[arg-type]
                        ENV_EXPRESSIONS.globals)
        _CONTEXTES.dernier = (contexte, jinja)
    jinja.vars.clear()
    jinja.exported_vars.clear()
    return jinja


def evaluer(expression: str, contexte: dict[str, Any]) -> Any:
    """Évalue une expression ; une variable absente lève UndefinedError."""
    fonction = compiler(expression)
    jinja = _contexte_jinja(contexte)
    arme = _armer()
    try:
        consume(fonction._template.root_render_func(jinja))  # ce que fait TemplateExpression.__call__
        resultat = jinja.vars["result"]
    finally:
        _desarmer(arme)
    if isinstance(resultat, StrictUndefined):
        str(resultat)  # lève UndefinedError avec le nom de la variable
    return resultat


# Ce que l'analyse par Jinja d'un texte a trouvé (chemins lus par une condition, syntaxe valide d'un modèle), gardé
# d'une commande à l'autre : analyser une centaine de conditions et de modèles coûtait ≈ 10 ms à chaque commande,
# dont la construction de l'analyseur lexical. Invalidé par ce module et la version de Jinja.
_ANALYSES = cache.Memoire("analyses", cache.empreinte(cache.sources(__file__), jinja2.__version__), 4096)


@lru_cache(maxsize=4096)
def chemins_utilises(expression: str) -> tuple[str, ...]:
    """Chemins de données lus par une expression (« spaser.insertion.actif », « lot.montant_estime »)."""
    cle = f"chemins\0{expression}"
    trouves = _ANALYSES.lire(cle)
    if not isinstance(trouves, tuple):
        trouves = _chemins_utilises(expression)
        _ANALYSES.ecrire([(cle, trouves)])
    return trouves


def verifier_syntaxe(modele: str) -> None:
    """Lève TemplateSyntaxError si `modele` n'est pas un modèle Jinja bien formé (`ENV_EXPRESSIONS.parse`) ; un
    modèle déjà trouvé bien formé n'est pas analysé de nouveau."""
    cle = f"syntaxe\0{modele}"
    if _ANALYSES.lire(cle) is True:
        return
    ENV_EXPRESSIONS.parse(modele)
    _ANALYSES.ecrire([(cle, True)])


def _chemins_utilises(expression: str) -> tuple[str, ...]:
    arbre = ENV_EXPRESSIONS.parse("{{ " + expression + " }}")
    chemins: list[str] = []

    def chemin(noeud: nodes.Node) -> str | None:
        if isinstance(noeud, nodes.Name):
            return noeud.name
        if isinstance(noeud, nodes.Getattr):
            base = chemin(noeud.node)
            return f"{base}.{noeud.attr}" if base else None
        return None

    def visiter(noeud: nodes.Node) -> None:
        if isinstance(noeud, (nodes.Getattr, nodes.Name)):
            trouve = chemin(noeud)
            if trouve:
                chemins.append(trouve)
                return
        for enfant in noeud.iter_child_nodes():
            visiter(enfant)

    visiter(arbre)
    resultat: list[str] = []
    for c in chemins:
        if c not in resultat and c not in ("true", "false", "none", "param"):
            resultat.append(c)
    return tuple(resultat)


def message_erreur(exc: BaseException) -> str:
    """Message français pour une erreur d'évaluation."""
    if isinstance(exc, UndefinedError):
        texte = str(exc)
        nom = re.search(r"'([^']+)' is undefined", texte)
        if nom:
            return f"variable inconnue « {nom.group(1)} »"
        attribut = re.search(r"has no attribute '([^']+)'", texte)
        if attribut:
            return f"donnée absente « {attribut.group(1)} »"
        return f"variable indéfinie ({texte})"
    if isinstance(exc, TemplateSyntaxError):
        return f"syntaxe Jinja invalide, ligne {exc.lineno} : {exc.message}"
    if isinstance(exc, SecurityError):
        attribut = re.search(r"attribute '([^']+)'", str(exc))
        return "opération interdite dans le bac à sable" + (f" (« {attribut.group(1)} »)" if attribut else "")
    if isinstance(exc, LimiteDepassee):
        return f"limite du bac à sable dépassée : {exc}"
    if isinstance(exc, MemoryError):
        return "limite du bac à sable dépassée : mémoire épuisée"
    if isinstance(exc, RecursionError):
        return "limite du bac à sable dépassée : appels imbriqués trop profonds (macro récursive ?)"
    if isinstance(exc, ZeroDivisionError):
        return "division par zéro"
    return f"{type(exc).__name__} : {exc}"


def modele_clause(clause: Any) -> Template:
    """Modèle Jinja d'une clause du catalogue, compilé une fois par chargement du catalogue."""
    if clause.modele_compile is None:
        clause.modele_compile = ENV_CLAUSES.from_string(clause.corps)
    return clause.modele_compile
