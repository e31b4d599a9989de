"""Ce que les pièces assemblées disent, lu dans le modèle de document neutre (blocs) : texte, lots présentés,
dérogations récapitulées ; et les contrôles juridiques appliqués à ces faits."""

from __future__ import annotations

import pickle
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any, Callable

from . import annexe, croises, relecture
from .assemblage import blocs_document, calcul_garde, cle_consultation, memoire_de_consultation
from .blocs import Bloc, Liste, Paragraphe, Segment, Tableau, Titre, texte
from .tracabilite import empreinte_fiche, fiche
from ..droit.conformite import Conformite, dernier_article, normaliser, verifier
from ..droit.conformite import faits as faits_etablis, faits_de_relecture
from ..donnees import cache
from ..donnees.formats import typographie
from ..droit.regles import Analyse

RE_LOT = re.compile(r"\blot\s+(?:n°\s*)?(\d+)\b(?!\s*(?:,|et|à|ou)\s*\d)", re.IGNORECASE)
FICHE = "Fiche de traçabilité"
INTERNES = (FICHE, annexe.TITRE)  # documents du service, pas des candidats

def texte_blocs(blocs: list[Bloc]) -> str:
    """Texte lisible des blocs d'une pièce (titres, paragraphes, listes, cellules)."""
    morceaux: list[str] = []
    for b in blocs:
        if isinstance(b, Titre):
            morceaux.append(b.texte)
        elif isinstance(b, Tableau):
            morceaux.extend(" | ".join(texte(c) for c in ligne) for ligne in b.lignes)
        elif isinstance(b, Paragraphe):
            morceaux.append(texte(b.segments))
        elif isinstance(b, Liste):
            pile = list(b.elements)
            while pile:
                e = pile.pop(0)
                morceaux.append(texte(e.segments))
                if e.sous_liste:
                    pile.extend(e.sous_liste.elements)
    return "\n".join(morceaux)


# Texte de chaque bloc déjà lu (`texte_blocs([b])` et ses lignes non vides), gardé sous l'identité du bloc : les
# blocs des clauses viennent du cache du Markdown, partagés d'une consultation à l'autre et jamais modifiés. Les
# titres, faits pour chaque consultation et lus sans calcul, n'y entrent pas.
_TEXTES_BLOCS = cache.ParObjet(2048)


def _texte_bloc(b: Bloc) -> tuple[str, tuple[str, ...]]:
    """`texte_blocs([b])` et ses lignes non vides."""
    if isinstance(b, Titre):
        return b.texte, tuple([ligne for ligne in b.texte.split("\n") if ligne.strip()])
    return _TEXTES_BLOCS.obtenir(b, lambda: _lire_bloc(b))


def _lire_bloc(b: Bloc) -> tuple[str, tuple[str, ...]]:
    t = texte_blocs([b])
    return t, tuple([ligne for ligne in t.split("\n") if ligne.strip()])


# `_comparable` du texte de chaque bloc, gardé comme `_TEXTES_BLOCS` (titres exceptés).
_COMPARABLES = cache.ParObjet(2048)


def _comparable_blocs(blocs: list[Bloc]) -> str:
    """`_comparable(texte_blocs(blocs))`, fait des textes comparables de chaque bloc : `_comparable` réduit chaque
    suite de blancs (dont le saut de ligne entre deux blocs) à une espace et ne change les caractères qu'un à un."""
    morceaux = [_comparable(b.texte) if isinstance(b, Titre)
                else _COMPARABLES.obtenir(b, lambda b=b: _comparable(_texte_bloc(b)[0])) for b in blocs]
    return " ".join([m for m in morceaux if m])


def _lignes_de_lots(blocs: list[Bloc]) -> list[tuple[str, str]]:
    """(numéro, intitulé) de chaque ligne des tableaux de lots d'une pièce (en-tête « Lot | Intitulé | … »)."""
    lignes = []
    for b in blocs:
        if isinstance(b, Tableau):
            lignes.extend(_LIGNES_DE_LOTS.obtenir(b, lambda b=b: _lignes_du_tableau(b)))
    return lignes


# `_lignes_du_tableau` de chaque tableau, gardé comme `_TEXTES_BLOCS`.
_LIGNES_DE_LOTS = cache.ParObjet(2048)


def _lignes_du_tableau(b: Tableau) -> tuple[tuple[str, str], ...]:
    """(numéro, intitulé) de chaque ligne d'un tableau de lots ; aucune pour un autre tableau."""
    if not _est_tableau_de_lots(b):
        return ()
    return tuple([(normaliser(texte(l[0])), normaliser(texte(l[1]))) for l in b.lignes[1:] if len(l) >= 2])


def _lots_lus(blocs: list[Bloc], lots: list[dict[str, Any]]) -> tuple[list[int], list[str]]:
    """Lots qu'une pièce présente avec leur intitulé exact, et lignes qui divergent des réponses."""
    attendus = {str(l["numero"]): normaliser(typographie(str(l["intitule"]))) for l in lots}  # tel qu'imprimé
    lignes = _lignes_de_lots(blocs)
    divergentes = [f"lot {n} «\u00a0{i}\u00a0»" for n, i in lignes if attendus.get(n) != i]
    trouves = sorted(l["numero"] for l in lots if (str(l["numero"]), attendus[str(l["numero"])]) in lignes)
    return trouves, divergentes


def _est_tableau_de_lots(b: Bloc) -> bool:
    return isinstance(b, Tableau) and len(b.lignes) > 1 and len(b.lignes[0]) >= 2 and \
        [normaliser(texte(c)) for c in b.lignes[0][:2]] == ["Lot", "Intitulé"]


class TextesArticles(Mapping[str, list[str]]):
    """Lignes de texte de chaque article (« 6 ») et sous-article (« 6.2 ») d'une pièce, titres numérotés exclus, lues
    à la demande : les numéros des articles sont relevés d'abord (titres seuls) ; les lignes d'un article ne sont
    réunies que s'il est lu, une fois. Les contrôles n'en citent que quelques-uns
    (preuves) : les lignes de tous les articles, réunies pour chaque consultation, n'étaient presque jamais lues.
    Les blocs ne doivent pas changer tant qu'elle sert (ceux des pièces assemblées ne changent jamais)."""

    def __init__(self, blocs: list[Bloc]) -> None:
        self._blocs = blocs
        # numéro de chaque article, dans l'ordre → (premier bloc, bloc suivant le dernier, fois) de chaque suite de
        # blocs entre deux titres numérotés qui lui appartient ; un numéro peut y compter deux fois (« 6 » sous un
        # article « 6 ») : ses lignes aussi
        self._suites: dict[str, list[tuple[int, int, int]]] = {}
        self._lues: dict[str, list[str]] = {}
        courants: tuple[str, ...] = ()
        debut = 0
        for i, b in enumerate(blocs):
            if isinstance(b, Titre) and b.niveau <= 2:
                numero = relecture.RE_NUMERO_TITRE.match(b.texte)
                if numero:
                    self._fermer(courants, debut, i)
                    courants = (courants[:1] if b.niveau == 2 else ()) + (numero.group(1),)
                    for n in courants:
                        self._suites.setdefault(n, [])
                    debut = i + 1
        self._fermer(courants, debut, len(blocs))

    def _fermer(self, courants: tuple[str, ...], debut: int, fin: int) -> None:
        if debut < fin:
            for n in dict.fromkeys(courants):
                self._suites[n].append((debut, fin, courants.count(n)))

    def __getitem__(self, numero: str) -> list[str]:
        lignes = self._lues.get(numero)
        if lignes is None:
            suites = self._suites[numero]
            lignes = []
            for debut, fin, fois in suites:
                for b in self._blocs[debut:fin]:
                    lignes.extend(_texte_bloc(b)[1] * fois)
            self._lues[numero] = lignes
        return lignes

    def __contains__(self, numero: object) -> bool:  # sans réunir ses lignes
        return numero in self._suites

    def __iter__(self) -> Iterator[str]:
        return iter(self._suites)

    def __len__(self) -> int:
        return len(self._suites)


def _contenu_des_lots(blocs: list[Bloc], lots: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Pour chaque lot, les articles d'une pièce qui parlent de lui seul (« lot 3 », « lot n° 3 »), hors tableau des lots."""
    lieux: dict[str, list[str]] = {str(l["numero"]): [] for l in lots}
    article = ""
    for b in blocs:
        if isinstance(b, Titre):
            if b.niveau == 1:
                article = b.texte
            numeros = _lots_nommes(b)
        else:
            numeros = _LOTS_NOMMES.obtenir(b, lambda b=b: _lots_nommes(b))
        for numero in numeros:
            if numero in lieux and article not in lieux[numero]:
                lieux[numero].append(article)
    return lieux


# `_lots_nommes` de chaque bloc, gardé comme `_TEXTES_BLOCS` (titres exceptés).
_LOTS_NOMMES = cache.ParObjet(2048)


def _lots_nommes(b: Bloc) -> tuple[str, ...]:
    """Numéros des lots qu'un bloc nomme seuls (« lot 3 », « lot n° 3 »), dans l'ordre ; aucun pour un tableau des lots."""
    if _est_tableau_de_lots(b):
        return ()
    return tuple([m.group(1) for m in RE_LOT.finditer(_texte_bloc(b)[0])])


def _derogations(analyse: Analyse, blocs_ccap: list[Bloc]) -> list[dict[str, Any]]:
    """Dérogations des clauses retenues, et si chacune figure dans un tableau du dernier article du CCAP."""
    dernier = dernier_article(analyse, "CCAP")["numero"]
    lignes: set[tuple[str, str]] = set()
    dans_dernier = False
    for b in blocs_ccap:
        if isinstance(b, Titre) and b.niveau == 1:
            dans_dernier = bool(re.match(rf"^Article {re.escape(dernier)}\b", b.texte))
        elif dans_dernier and isinstance(b, Tableau):
            lignes.update((normaliser(texte(l[0])), normaliser(texte(l[1]))) for l in b.lignes if len(l) >= 2)
    return [{**d, "recapitulee": (d["article_ccap"], d["article_ccag"]) in lignes} for d in analyse.derogations]


def _comparable(t: str) -> str:
    return " ".join(str(t).replace("\u00a0", " ").replace("\u202f", " ").replace("’", "'").split()).casefold()


def _criteres_absents(analyse: Analyse, corps: dict[str, list[Bloc]]) -> list[str]:
    """Critères du fichier de réponses qu'une pièce ne reprend pas : le RC (tous), le cadre de mémoire technique
    (un article par critère jugé sur le mémoire, avec sa pondération), chacun dit « « intitulé » : pièce »."""
    from . import memoire

    rc = _comparable_blocs(corps.get("RC", []))
    titres = _titres_du_cadre(analyse)
    absents = []
    for c in analyse.contexte.get("criteres") or []:
        intitule = _comparable(typographie(str(c["intitule"])))
        if intitule not in rc:
            absents.append(f"«\u00a0{c['intitule']}\u00a0»\u00a0: RC")
        if c["type"] not in memoire.NON_REDIGES and not any(
                _comparable(typographie(memoire.titre_pondere(c["intitule"], c["ponderation"]))) in t for t in titres):
            absents.append(f"«\u00a0{c['intitule']}\u00a0»\u00a0: {memoire.TITRE}")
    return absents


def _titres_du_cadre(analyse: Analyse) -> list[str]:
    """Les titres des articles du cadre de mémoire technique, comparables. Le cadre ne lit que l'analyse, le
    questionnaire (clé de l'analyse) et modeles/memoire.yaml : ses titres sont gardés dans la mémoire de la
    consultation sous tout cela (le refaire coûtait ≈ 2 % du calcul d'une consultation régénérée)."""
    from . import memoire

    def calcul() -> list[str]:
        return [_comparable(b.texte) for b in memoire.blocs_cadre(analyse)[0] if isinstance(b, Titre) and b.niveau == 1]

    consultation = cle_consultation(analyse)
    try:
        cle = None if consultation is None else cache.empreinte(
            consultation, cache.sources(analyse.catalogue.modeles() / "memoire.yaml"))
    except OSError:  # modèle illisible : le cadre le dira
        cle = None
    return calcul_garde(memoire_de_consultation("cadres"), cle, analyse, calcul,
                        reprendre=lambda t: t if type(t) is list and all(type(x) is str for x in t) else None,
                        garder=lambda t: t)


def faits_des_pieces(analyse: Analyse, corps: dict[str, list[Bloc]]) -> dict[str, Any]:
    """Faits lus dans les blocs de chaque pièce, tels que les contrôles de conformité les attendent."""
    lots = analyse.contexte["lots"]
    lus = {doc: _lots_lus(corps.get(doc, []), lots) for doc in analyse.catalogue.documents}
    return {
        "lots_par_piece": {doc: trouves for doc, (trouves, _) in lus.items()},
        "lots_divergents": [f"{doc}, {ligne}" for doc, (_, divergentes) in lus.items() for ligne in divergentes],
        "derogations": _derogations(analyse, corps.get("CCAP", [])),
        "textes_articles": {doc: TextesArticles(blocs) for doc, blocs in corps.items()},  # lus à la demande
        "contenu_lots_cctp": _contenu_des_lots(corps.get("CCTP", []), lots),
        "criteres_absents": _criteres_absents(analyse, corps),
    }


def pieces_complementaires(analyse: Analyse) -> dict[str, list[Bloc]]:
    """Les pièces que `dce publier` ajoute, en blocs, pour la relecture : AE de chaque lot, cadre de mémoire,
    bordereau des prix (ses lignes, en tableau)."""
    from . import acte_engagement, bordereau, memoire

    pieces: dict[str, list[Bloc]] = {}
    for lot in analyse.contexte["lots"]:
        pieces[acte_engagement.titre_document(analyse, lot)[0]] = acte_engagement.blocs(analyse, lot)[0]
    pieces[memoire.TITRE] = memoire.blocs_cadre(analyse)[0]
    lignes: list[Bloc] = []
    for lot in analyse.contexte["lots"]:
        lignes.append(Titre(1, f"Lot {lot['numero']} – {lot['intitule']}"))
        for partie in bordereau.feuille_du_lot(analyse, lot).parties:
            lignes.append(Tableau([[[Segment(partie.titre)], [Segment("Unité")]]]
                                  + [[[Segment(l.designation)], [Segment(l.unite)]] for l in partie.lignes]))
    pieces["Bordereau des prix"] = lignes
    return pieces


def controler(analyse: Analyse, corps: dict[str, list[Bloc]] | None = None, complementaires: bool = False,
              blocs_fiche: Callable[[], list[Bloc]] | None = None) -> Conformite:
    """Contrôles juridiques de la consultation et relecture de ses pièces (assemblées ici si `corps` manque).

    Sont relus : les pièces de `corps`, la fiche de traçabilité (`blocs_fiche()` la donne si elle est déjà faite ou
    se fait ailleurs ; voir `_fiche_relue`), l'annexe de conformité elle-même (hors la rubrique qui cite les défauts
    et les preuves) et, si `complementaires`, les pièces que `dce publier` ajoute. Les verdicts sont gardés dans la
    mémoire de la consultation (voir `_verdicts_gardes`)."""
    if corps is None:
        corps = {doc: blocs_document(analyse, doc)[0] for doc in analyse.catalogue.documents}
    faits = faits_des_pieces(analyse, corps)
    relues: dict[str, relecture.Piece | relecture.Resume] = {
        nom: relecture.piece(nom, blocs) for nom, blocs in corps.items()}
    relues[FICHE] = _fiche_relue(analyse, blocs_fiche or (lambda: fiche(analyse)[0]))
    for nom, blocs in (pieces_complementaires(analyse) if complementaires else {}).items():
        relues[nom] = relecture.piece(nom, blocs)
    # chaque pièce relue seule, puis les pièces ensemble (contrôles croisés : durées, listes, renvois entre pièces)
    defauts = relecture.relire(analyse.catalogue, relues) + croises.controler(analyse.catalogue, relues)
    pieces = {**faits, "defauts_relecture": defauts, "pieces_relues": list(relues)}
    etablis = faits_etablis(analyse, pieces)
    return _verdicts_gardes(analyse, pieces, etablis, complementaires,
                            lambda textes: _verdicts(analyse, {**pieces, "textes_articles": textes}, etablis))


# Relecture de la fiche gardée. La fiche de traçabilité fait plus de la moitié des unités relues d'une consultation
# (ses tableaux : une unité par cellule) et ne dépend que de l'analyse (`tracabilite.empreinte_fiche`) : après la
# modification du corps d'une clause, elle est la même. Ce que sa relecture en retient (`relecture.Resume` : ses
# défauts propres, ses renvois, ses numéros d'articles) est gardé dans la mémoire de la consultation (mémoire
# « relectures ») sous son empreinte, avec les paramètres du catalogue lus pour la faire ; repris, la fiche n'est
# ni faite ni relue, et ses renvois sont revérifiés contre les autres pièces du jour (`relecture.relire`). Seulement
# si aucun contrôle ne lit ses unités (`relecture.resumable`, `croises.lit` : un contrôle ajouté au catalogue qui la
# lit la fait relire en entier).
def _fiche_relue(analyse: Analyse, blocs_fiche: Callable[[], list[Bloc]]) -> relecture.Piece | relecture.Resume:
    catalogue = analyse.catalogue
    empreinte = empreinte_fiche(analyse)
    if empreinte is None or not relecture.resumable(catalogue, FICHE) or croises.lit(catalogue, FICHE):
        return relecture.piece(FICHE, blocs_fiche())
    regles = len(relecture.regles(catalogue))

    def reprendre(resume: Any) -> relecture.Resume | None:
        ok = type(resume) is relecture.Resume and len(resume.defauts) == len(resume.renvois) == regles
        return resume if ok else None

    return calcul_garde(memoire_de_consultation("relectures"), cache.empreinte(empreinte, FICHE), analyse,
                        lambda: relecture.resumer(catalogue, relecture.piece(FICHE, blocs_fiche())),
                        reprendre, garder=lambda resume: resume)


def _verdicts(analyse: Analyse, pieces: dict[str, Any], etablis: dict[str, Any]) -> Conformite:
    """Les verdicts des contrôles sur ces faits, puis ceux qui lisent la relecture, une fois l'annexe relue."""
    defauts = pieces["defauts_relecture"]
    provisoire = verifier(analyse, pieces, etablis=etablis)
    blocs_annexe = annexe.blocs(analyse, provisoire, citations=False)[0]
    defauts = defauts + relecture.relire(analyse.catalogue, {annexe.TITRE: relecture.piece(annexe.TITRE, blocs_annexe)})
    # fiche et annexe sont des documents internes : leurs défauts sont à vérifier, jamais bloquants pour --strict
    defauts = [replace(d, bloquant=False) if d.piece in INTERNES else d for d in defauts]
    # second passage : seuls les contrôles qui lisent la relecture (défauts, pièces relues) sont refaits
    relues = [*pieces["pieces_relues"], annexe.TITRE]
    return verifier(analyse, {**pieces, "defauts_relecture": defauts, "pieces_relues": relues}, precedent=provisoire)


# Verdicts gardés. Les contrôles, l'annexe provisoire et sa relecture (≈ 15 % du calcul d'une consultation régénérée)
# ne dépendent des pièces que par les faits qu'on y a lus (lots, dérogations, critères, défauts de la relecture, faits
# établis : `etablis`) et par les lignes des articles qu'une preuve cite (`TextesArticles`) ; le reste, de l'analyse.
# Après la modification d'une clause qui ne change aucun de ces faits ni aucune ligne citée, ils sont les mêmes : ils
# sont gardés dans la mémoire de la consultation (mémoire « controles », `assemblage.memoire_de_consultation`) sous
# l'empreinte de l'analyse (`assemblage.cle_consultation` : catalogue.yaml et ses contrôles compris), des faits établis
# et des défauts, avec les lignes citées et les paramètres du catalogue lus ; repris seulement si chaque ligne citée
# est la même. Une erreur n'est jamais gardée.
class _LignesCitees(Mapping[str, list[str]]):
    """Les lignes des articles d'une pièce (`TextesArticles`), avec le relevé de celles qu'on y lit (leur empreinte)."""

    def __init__(self, piece: str, textes: Mapping[str, list[str]], releve: list[tuple[str, str | None, Any]]) -> None:
        self._piece, self._textes, self._releve = piece, textes, releve

    def __getitem__(self, numero: str) -> list[str]:
        try:
            lignes = self._textes[numero]
        except KeyError:
            self._releve.append((self._piece, numero, None))
            raise
        self._releve.append((self._piece, numero, _empreinte_lignes(lignes)))
        return lignes

    def __iter__(self) -> Iterator[str]:
        self._releve.append((self._piece, None, _empreinte_lignes(self._textes)))
        return iter(self._textes)

    def __len__(self) -> int:
        self._releve.append((self._piece, None, _empreinte_lignes(self._textes)))
        return len(self._textes)


def _empreinte_lignes(lignes: Any) -> str:
    return cache.empreinte(*lignes)


def _lignes(textes: dict[str, Mapping[str, list[str]]], piece: str, numero: str | None) -> Any:
    """Ce que le relevé de `_LignesCitees` a noté pour (pièce, numéro), lu dans `textes`."""
    articles = textes.get(piece)
    if articles is None:
        return False  # pièce absente : jamais notée ainsi
    if numero is None:
        return _empreinte_lignes(articles)
    lignes = articles.get(numero)
    return None if lignes is None else _empreinte_lignes(lignes)


def _verdicts_gardes(analyse: Analyse, pieces: dict[str, Any], etablis: dict[str, Any], complementaires: bool,
                     calcul: Any) -> Conformite:
    textes = pieces["textes_articles"]
    consultation = cle_consultation(analyse)
    cle = None
    if consultation is not None:
        try:
            cle = cache.empreinte(consultation, str(complementaires), cache.octets_stables(etablis),
                                  cache.octets_stables(pieces["defauts_relecture"]),
                                  cache.octets_stables(pieces["pieces_relues"]))
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError, ValueError):
            cle = None
    if cle is None:
        return calcul(textes)
    releve: list[tuple[str, str | None, Any]] = []

    def reprendre(garde: Any) -> Conformite | None:
        if type(garde) is not tuple or len(garde) != 2:
            return None
        verdicts, citees = garde
        if not all(_lignes(textes, piece, numero) == lignes for piece, numero, lignes in citees):
            return None
        verdicts_, defauts = pickle.loads(verdicts)
        # les faits, comme les établit le second passage (`_verdicts`) : ceux du premier, puis ceux de la relecture
        finales = {"defauts_relecture": defauts, "pieces_relues": [*pieces["pieces_relues"], annexe.TITRE]}
        return Conformite(verdicts_, {**etablis, **faits_de_relecture(finales)}, defauts, cle)

    def garder(conformite: Conformite) -> Any:
        try:
            # verdicts et défauts seuls (≈ 20 Kio) : les faits sont ceux de `etablis`, déjà là quand ils sont repris
            verdicts = pickle.dumps((conformite.verdicts, conformite.defauts), protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
            return None
        conformite.cle = cle
        return verdicts, tuple(dict.fromkeys(releve))

    return calcul_garde(memoire_de_consultation("controles"), cle, analyse,
                        lambda: calcul({piece: _LignesCitees(piece, t, releve) for piece, t in textes.items()}),
                        reprendre, garder)
