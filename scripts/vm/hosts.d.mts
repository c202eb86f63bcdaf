/** The qemu options of a node's NIC: its end of the wire, its MAC, MTU 9000. */
export function wireArgs(node: { name: string; mac: string }, peer: { name: string }): string[];
/** The two-host run's /etc/hosts. */
export function hostsFile(): string;
