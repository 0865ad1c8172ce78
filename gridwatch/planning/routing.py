"""Team-day routes over the sites: OR-Tools routing against a naive plan.

Each team-day is a vehicle that leaves its team's base at the start of the working day and
must be back within ``day_minutes``; a site costs its travel time from the previous stop plus
its time on site. Sites are optional: leaving one out costs its priority, so the search covers
as much priority as fits and, among plans of equal priority, drives the fewest kilometres
(the penalty of a priority point outweighs every distance the plan could drive).

The naive plan is what a planner does by hand: sites in order of priority (highest first),
each given to the first team-day (team 1 day 1, team 2 day 1, ..., then day 2) whose
nearest-neighbour tour from its base still fits the working day with it, and each team-day
visited in nearest-neighbour order. It is the search's first solution, so the search never
covers less priority than it (and the comparison of the two is reported).

The search is deterministic: a fixed first solution, then greedy descent to a local optimum
(OR-Tools' local search has no randomness); the time limit is a guard, and the result says
whether it was reached (a search cut by the clock may differ between runs).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Routes", "naive_routes", "route_minutes", "solve_routes", "travel_matrix"]

#: Priorities are compared in hundredths of a point.
_PRIORITY_UNIT = 100


@dataclass(frozen=True)
class Routes:
    """A plan: for each vehicle (team-day), the site positions in visit order.

    Attributes
    ----------
    stops
        One list of site positions (0-based, into the candidate sites) per vehicle.
    time_limit_reached
        The search stopped at its time limit (not at a local optimum).
    """

    stops: tuple[tuple[int, ...], ...]
    time_limit_reached: bool = False


def travel_matrix(x: np.ndarray, y: np.ndarray, *, detour_factor: float) -> np.ndarray:
    """Road distance in metres between every two points: straight-line distance in the
    metric CRS times ``detour_factor``."""
    dx = x[:, None] - x[None, :]
    dy = y[:, None] - y[None, :]
    out: np.ndarray = np.hypot(dx, dy) * detour_factor
    return out


def route_minutes(stops: Sequence[int], depot: int, distance_m: np.ndarray,
                  visit_minutes: np.ndarray, *, metres_per_minute: float,
                  first_site: int) -> float:
    """Minutes a vehicle needs for ``stops`` (site positions) from ``depot`` and back.

    ``distance_m`` is over nodes: depots first, then sites from ``first_site``.
    """
    nodes = [depot, *(first_site + s for s in stops), depot]
    drive = sum(distance_m[a, b] for a, b in itertools.pairwise(nodes))
    return float(drive / metres_per_minute + sum(visit_minutes[s] for s in stops))


def _nearest_neighbour(stops: list[int], depot: int, distance_m: np.ndarray,
                       first_site: int) -> list[int]:
    left = list(stops)
    order: list[int] = []
    here = depot
    while left:
        nxt = min(left, key=lambda s: (distance_m[here, first_site + s], s))
        order.append(nxt)
        left.remove(nxt)
        here = first_site + nxt
    return order


def naive_routes(priority: np.ndarray, visit_minutes: np.ndarray, distance_m: np.ndarray,
                 depots: Sequence[int], *, day_minutes: float,
                 metres_per_minute: float) -> Routes:
    """The naive plan (see the module docstring).

    Parameters
    ----------
    priority, visit_minutes
        Per site.
    distance_m
        Metres between nodes: the distinct depots first (``0..d-1``), then the sites.
    depots
        The depot node of each vehicle (team-day), in the order they are filled.
    day_minutes, metres_per_minute
        The working day and the travel speed.
    """
    first_site = int(distance_m.shape[0] - len(priority))
    routes: list[list[int]] = [[] for _ in depots]
    order = sorted(range(len(priority)), key=lambda s: (-priority[s], s))
    for site in order:
        if priority[site] <= 0:
            break
        for vehicle, depot in enumerate(depots):
            tour = _nearest_neighbour([*routes[vehicle], site], depot, distance_m, first_site)
            if route_minutes(tour, depot, distance_m, visit_minutes,
                             metres_per_minute=metres_per_minute,
                             first_site=first_site) <= day_minutes:
                routes[vehicle] = tour
                break
    return Routes(stops=tuple(tuple(r) for r in routes))


def solve_routes(priority: np.ndarray, visit_minutes: np.ndarray, distance_m: np.ndarray,
                 depots: Sequence[int], *, day_minutes: float, metres_per_minute: float,
                 time_limit_s: float, initial: Routes | None = None) -> Routes:
    """Routes by OR-Tools: most priority covered within each working day, then fewest metres.

    Parameters are those of :func:`naive_routes`, plus ``time_limit_s`` (the search's guard)
    and ``initial`` (the first solution; default the naive plan).
    """
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    n_sites = len(priority)
    n_nodes = distance_m.shape[0]
    first_site = n_nodes - n_sites
    if initial is None:
        initial = naive_routes(priority, visit_minutes, distance_m, depots,
                               day_minutes=day_minutes, metres_per_minute=metres_per_minute)
    if n_sites == 0 or not depots:
        return initial
    metres = np.rint(distance_m).astype("int64")
    # seconds of travel from a node plus the time on site at it
    service = np.zeros(n_nodes, dtype="float64")
    service[first_site:] = visit_minutes * 60.0
    seconds = np.ceil(distance_m / metres_per_minute * 60.0 + service[:, None]).astype("int64")
    np.fill_diagonal(seconds, 0)
    manager = pywrapcp.RoutingIndexManager(n_nodes, len(depots), list(depots), list(depots))
    routing = pywrapcp.RoutingModel(manager)
    # matrices held by the solver: no Python call per arc looked at (a third of the time)
    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitMatrix(metres.tolist()))
    day_s = int(np.floor(day_minutes * 60.0))
    routing.AddDimension(routing.RegisterTransitMatrix(seconds.tolist()), 0, day_s, True,
                         "time")
    # one priority hundredth outweighs any distance the plan could drive
    big = int(metres.max(initial=0)) * (n_nodes + len(depots)) + 1
    units = np.rint(np.asarray(priority, dtype="float64") * _PRIORITY_UNIT).astype("int64")
    for site in range(n_sites):
        index = manager.NodeToIndex(first_site + site)
        routing.AddDisjunction([index], int(max(units[site], 0)) * big)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = \
        routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
    params.time_limit.FromMilliseconds(max(int(time_limit_s * 1000), 1))
    routing.CloseModelWithParameters(params)
    start = routing.ReadAssignmentFromRoutes(
        [[first_site + s for s in stops] for stops in initial.stops], True)
    if start is not None:
        solution = routing.SolveFromAssignmentWithParameters(start, params)
    else:  # the naive plan is always feasible; this is a guard
        solution = routing.SolveWithParameters(params)
    if solution is None:
        return initial
    stops = []
    for vehicle in range(len(depots)):
        index = routing.Start(vehicle)
        route = []
        index = solution.Value(routing.NextVar(index))
        while not routing.IsEnd(index):
            route.append(manager.IndexToNode(index) - first_site)
            index = solution.Value(routing.NextVar(index))
        stops.append(tuple(route))
    status = routing_enums_pb2.RoutingSearchStatus
    limit = routing.status() in (status.ROUTING_PARTIAL_SUCCESS_LOCAL_OPTIMUM_NOT_REACHED,
                                 status.ROUTING_FAIL_TIMEOUT)
    return Routes(stops=tuple(stops), time_limit_reached=bool(limit))
