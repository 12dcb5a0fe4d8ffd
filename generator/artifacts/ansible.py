"""Ansible's view of the cluster (templates/ansible/): an inventory rendered from the topology, and
playbooks that are the same for every cluster, shipped as they are.

The playbooks run each machine's own apply.sh, in the order the plan orders machines
(review.impacts.machine_phase): the inventory puts every node in its role's group and in its phase's
group, and site.yml plays the phases in turn.
"""

from __future__ import annotations

from ..model import Cluster
from ..review.impacts import Phase, machine_phase
from .catalogue import ClusterFile

# The groups site.yml plays in turn, one per phase a machine's own apply can be in.
PHASE_GROUPS = {Phase.DATABASE: "harborgen_phase_database", Phase.HARBOR: "harborgen_phase_harbor",
                Phase.BALANCER: "harborgen_phase_balancer"}


def group_of(role: str) -> str:
    """An Ansible group name is a word: load-balancer's group is harborgen_load_balancer."""
    return "harborgen_" + role.replace("-", "_")


def _inventory_values(cluster: Cluster) -> dict:
    roles = sorted({role for node in cluster.nodes for role in node.roles})
    phases = {group: [] for group in PHASE_GROUPS.values()}
    for node in cluster.nodes:
        phases[PHASE_GROUPS[machine_phase(node.roles)]].append(node.name)
    return {
        "role_groups": {group_of(role): [node.name for node in cluster.nodes if node.has(role)] for role in roles},
        "phase_groups": phases,
        "pair": cluster.load_balancer.vrrp,
    }


CLUSTER_FILES = (
    ClusterFile("ansible/inventory.yml", "ansible/inventory.yml.j2", "text", _inventory_values),  # !unsafe is a tag only Ansible reads
    ClusterFile("ansible/site.yml", "ansible/site.yml", "yaml"),
    ClusterFile("ansible/check.yml", "ansible/check.yml", "yaml"),
    ClusterFile("ansible/tasks/stage.yml", "ansible/tasks/stage.yml", "yaml"),
    ClusterFile("ansible/tasks/apply.yml", "ansible/tasks/apply.yml", "yaml"),
)
GC = ClusterFile("ansible/gc.yml", "ansible/gc.yml", "yaml")
