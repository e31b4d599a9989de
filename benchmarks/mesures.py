"""Mesures communes aux bancs d'essai : temps de calcul (user + sys) et mémoire de tout l'arbre de processus.

Le temps mur dépend de ce que fait le reste de la machine ; le temps de calcul (user + sys, `getrusage`) beaucoup
moins : les bancs donnent les deux. La mémoire d'un lot est celle de l'arbre entier (processus principal et
processus de calcul), échantillonnée toutes les 100 ms dans /proc (Linux) : somme des RSS (pages partagées
comptées dans chaque processus) et somme des PSS (pages partagées réparties entre les processus qui les partagent,
la mesure juste d'un arbre issu de fork).
"""

from __future__ import annotations

import argparse
import os
import resource
import threading
import time
from pathlib import Path
from typing import Any


def charge() -> str:
    """La charge et la vitesse de la machine, à joindre à chaque résultat : les temps murs n'ont de sens que sur une
    machine calme, et ne se comparent d'une machine à l'autre qu'à vitesse égale."""
    un, cinq, quinze = os.getloadavg()
    return (f"Charge de la machine à la fin (1, 5, 15 min) : {un:.1f} / {cinq:.1f} / {quinze:.1f} sur {os.cpu_count()} "
            f"cœurs. {vitesse()}")


def vitesse(tours: int = 1_000_000, essais: int = 5) -> str:
    """Temps d'un tour d'une boucle Python de référence (addition d'entiers), meilleur de `essais` : deux machines
    « à 2 cœurs » peuvent différer du simple au double (machines virtuelles partagées), et une même machine de ±50 %
    d'une minute à l'autre. Le meilleur essai approche la vitesse de la machine libre ; les instructions comptées par
    callgrind (README) ne dépendent, elles, d'aucune machine."""
    meilleur = float("inf")
    for _ in range(essais):
        debut, s = time.perf_counter(), 0
        for i in range(tours):
            s += i
        meilleur = min(meilleur, time.perf_counter() - debut)
    return f"Vitesse : boucle Python de référence {meilleur * 1e9 / tours:.0f} ns par tour (meilleur de {essais})."


def _travail_type(tours: int, depart: Any, resultats: Any) -> None:
    """Calcul Python pur qui alloue comme une consultation (dictionnaires, chaînes), lancé quand tous les processus
    de l'essai sont prêts (`depart`) : son temps mur, en secondes, va dans `resultats`."""
    depart.wait()
    debut = time.perf_counter()
    for _ in range(tours):
        d = {str(i): (i, str(i) * 3) for i in range(20_000)}
        "".join(v[1] for v in d.values())
    resultats.put(time.perf_counter() - debut)


def acceleration_machine(tours: int = 40, essais: int = 5) -> str:
    """L'accélération 1 → 2 processus que la machine elle-même donne, sans rien de `dce` : le même calcul
    (`_travail_type`, ≈ 0,8 s) dans un processus seul, puis dans deux processus à la fois (fork), `essais` fois en
    alternance ; médiane et étendue. Sur une machine virtuelle, deux cœurs « virtuels » ne valent pas toujours deux
    fois un : l'accélération d'un lot ne se juge qu'à côté de celle-ci."""
    import multiprocessing
    import statistics

    contexte = multiprocessing.get_context("fork")

    def duree(processus: int) -> float:
        depart, resultats = contexte.Barrier(processus), contexte.SimpleQueue()
        lances = [contexte.Process(target=_travail_type, args=(tours, depart, resultats)) for _ in range(processus)]
        for p in lances:
            p.start()
        for p in lances:
            p.join()
        return max(resultats.get() for _ in lances)

    mesures = [2 * duree(1) / duree(2) for _ in range(essais)]
    return (f"Accélération 1 → 2 processus de la machine seule (calcul Python qui alloue, sans dce, {essais} "
            f"essais) : {statistics.median(mesures):.2f} ({min(mesures):.2f} à {max(mesures):.2f}).")


def cpu_soi() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_enfants() -> float:
    """Temps de calcul des processus enfants terminés et attendus (processus de calcul d'un lot, commandes)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _enfants(pid: int) -> list[int]:
    resultat = []
    try:
        taches = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for tache in taches:
        try:
            resultat += [int(p) for p in Path(f"/proc/{pid}/task/{tache}/children").read_text().split()]
        except (OSError, ValueError):
            pass
    return resultat


def _memoire(pid: int) -> tuple[int, int]:
    """(RSS, PSS) en Kio d'un processus."""
    rss = pss = 0
    try:
        for ligne in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if ligne.startswith("Rss:"):
                rss = int(ligne.split()[1])
            elif ligne.startswith("Pss:"):
                pss = int(ligne.split()[1])
    except (OSError, ValueError):
        pass
    return rss, pss


class Arbre(threading.Thread):
    """Pointe de la mémoire de l'arbre de processus issu de `racine` (défaut : ce processus)."""

    def __init__(self, racine: int | None = None, intervalle: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.racine = racine or os.getpid()
        self.intervalle = intervalle
        self.fin = threading.Event()
        self.pointe_rss = self.pointe_pss = 0  # Kio
        self.principal_a_la_pointe = self.pointe_principal = 0  # PSS du processus racine (Kio)
        self.processus = 0

    def echantillon(self) -> None:
        pids, a_voir = [], [self.racine]
        while a_voir:
            pid = a_voir.pop()
            pids.append(pid)
            a_voir += _enfants(pid)
        mesures = [_memoire(p) for p in pids]
        self.pointe_rss = max(self.pointe_rss, sum(m[0] for m in mesures))
        pss = sum(m[1] for m in mesures)
        if pss > self.pointe_pss:  # la part du processus racine dans la pointe de l'arbre
            self.pointe_pss, self.principal_a_la_pointe = pss, mesures[0][1]
        self.pointe_principal = max(self.pointe_principal, mesures[0][1])
        self.processus = max(self.processus, len(pids))

    def run(self) -> None:
        while not self.fin.is_set():
            self.echantillon()
            time.sleep(self.intervalle)

    def __enter__(self) -> "Arbre":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.fin.set()
        self.join()

    def resultat(self) -> dict[str, float]:
        return {"arbre_rss": self.pointe_rss / 1024, "arbre_pss": self.pointe_pss / 1024, "processus": self.processus,
                "principal_a_la_pointe": self.principal_a_la_pointe / 1024, "pointe_principal": self.pointe_principal / 1024}


# -- aide et erreurs des bancs en français -------------------------------------------------------------------------

# Messages d'argparse (aide, usage, erreurs d'options) en français, comme ceux de `dce`
# (generateur/interfaces/cli_fr.py) : argparse les fait passer par gettext au moment de les écrire (`argparse._`,
# `argparse.ngettext`), sans traduction française livrée avec Python.
TRADUCTIONS = {
    "usage: ": "usage : ",
    "positional arguments": "arguments",
    "options": "options",
    "show this help message and exit": "affiche cette aide et quitte",
    "show program's version number and exit": "affiche la version et quitte",
    "%(prog)s: error: %(message)s\n": "%(prog)s : erreur : %(message)s\n",
    "argument %(argument_name)s: %(message)s": "option %(argument_name)s : %(message)s",
    "invalid %(type)s value: %(value)r": "valeur invalide : %(value)r",
    "invalid choice: %(value)r (choose from %(choices)s)":
        "choix invalide : %(value)r (valeurs possibles : %(choices)s)",
    "expected one argument": "une valeur attendue",
    "expected at most one argument": "une valeur au plus attendue",
    "expected at least one argument": "au moins une valeur attendue",
    "expected %s argument": "%s valeur attendue",
    "expected %s arguments": "%s valeurs attendues",
    "the following arguments are required: %s": "arguments obligatoires manquants : %s",
    "unrecognized arguments: %s": "arguments inconnus : %s",
    "ambiguous option: %(option)s could match %(matches)s": "option ambiguë : %(option)s peut désigner %(matches)s",
    "not allowed with argument %s": "incompatible avec l'option %s",
    "one of the arguments %s is required": "l'un des arguments %s est obligatoire",
    "ignored explicit argument %r": "valeur ignorée : %r",
    "can't open '%(filename)s': %(error)s": "impossible d'ouvrir « %(filename)s » : %(error)s",
}


def _traduire(message: str) -> str:
    return TRADUCTIONS.get(message, message)


def _traduire_n(singulier: str, pluriel: str, n: int) -> str:
    return _traduire(singulier if n == 1 else pluriel)


class _Formateur(argparse.RawDescriptionHelpFormatter):
    """Description telle qu'écrite dans le module du banc ; titres des rubriques suivis de « : » (« options : »)."""

    def start_section(self, heading: str | None) -> None:
        super().start_section(f"{heading} " if heading else heading)


def analyseur(description: str | None = None) -> argparse.ArgumentParser:
    """Analyseur des options d'un banc, aide et erreurs en français."""
    argparse._ = _traduire  # type: ignore[attr-defined]
    argparse.ngettext = _traduire_n  # type: ignore[attr-defined]
    return argparse.ArgumentParser(description=description, formatter_class=_Formateur)
