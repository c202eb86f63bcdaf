/**
 * A set of address ranges [start, end) that may overlap, answering "which
 * range contains [s, e)?" and "which ranges overlap [a, b)?" in O(log n) (plus
 * the number reported).
 *
 * It is a treap (a binary search tree kept balanced in expectation by random
 * priorities) ordered by (start, id), where every node also knows the largest
 * `end` in its subtree. The nodes are the caller's own objects (intrusive: no
 * allocation per insert or lookup), so a lookup on the cache's hit path costs a
 * few property loads per level. (@flatten-js/interval-tree, the npm package
 * made for this, allocates a result array on every search and has no
 * containment query, which the hit path needs.)
 *
 * Addresses are plain numbers: user-space addresses fit in 53 bits.
 */

/** The fields a range must carry to be kept in an {@link IntervalIndex}. */
export interface IntervalNode {
  /** Distinct per node; breaks ties between equal starts. */
  readonly id: number;
  readonly start: number;
  readonly end: number;
  /** @internal tree links, owned by the index */
  left: IntervalNode | null;
  right: IntervalNode | null;
  priority: number;
  maxEnd: number;
}

/** Fields to spread into a new node's initialiser. */
export function blankLinks(): Pick<IntervalNode, 'left' | 'right' | 'priority' | 'maxEnd'> {
  return { left: null, right: null, priority: 0, maxEnd: 0 };
}

function fix(n: IntervalNode): void {
  let m = n.end;
  if (n.left !== null && n.left.maxEnd > m) m = n.left.maxEnd;
  if (n.right !== null && n.right.maxEnd > m) m = n.right.maxEnd;
  n.maxEnd = m;
}

function before(a: IntervalNode, b: IntervalNode): boolean {
  return a.start < b.start || (a.start === b.start && a.id < b.id);
}

function insert(root: IntervalNode | null, n: IntervalNode): IntervalNode {
  if (root === null) return n;
  if (before(n, root)) {
    root.left = insert(root.left, n);
    if (root.left.priority > root.priority) {
      const l = root.left;
      root.left = l.right;
      fix(root);
      l.right = root;
      fix(l);
      return l;
    }
  } else {
    root.right = insert(root.right, n);
    if (root.right.priority > root.priority) {
      const r = root.right;
      root.right = r.left;
      fix(root);
      r.left = root;
      fix(r);
      return r;
    }
  }
  fix(root);
  return root;
}

function merge(a: IntervalNode | null, b: IntervalNode | null): IntervalNode | null {
  if (a === null) return b;
  if (b === null) return a;
  if (a.priority > b.priority) {
    a.right = merge(a.right, b);
    fix(a);
    return a;
  }
  b.left = merge(a, b.left);
  fix(b);
  return b;
}

function remove(root: IntervalNode | null, n: IntervalNode): IntervalNode | null {
  if (root === null) return null;
  if (root === n) {
    const rest = merge(n.left, n.right);
    n.left = n.right = null;
    return rest;
  }
  if (before(n, root)) root.left = remove(root.left, n);
  else root.right = remove(root.right, n);
  fix(root);
  return root;
}

/** Any node of the subtree whose end is >= e (the subtree's maxEnd must be >= e). */
function anyEndingAfter(n: IntervalNode, e: number): IntervalNode {
  for (;;) {
    if (n.end >= e) return n;
    if (n.left !== null && n.left.maxEnd >= e) n = n.left;
    else n = n.right!;
  }
}

export class IntervalIndex<T extends IntervalNode> {
  #root: IntervalNode | null = null;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  insert(node: T): void {
    node.left = node.right = null;
    node.priority = Math.random();
    node.maxEnd = node.end;
    this.#root = insert(this.#root, node);
    this.#size++;
  }

  /** Removes a node that is in this index. */
  remove(node: T): void {
    this.#root = remove(this.#root, node);
    this.#size--;
  }

  /** A node with start <= s and end >= e, or undefined. O(log n). */
  findContaining(s: number, e: number): T | undefined {
    let n = this.#root;
    while (n !== null) {
      if (n.start > s) {
        n = n.left;
        continue;
      }
      // n and its whole left subtree start at or before s.
      if (n.end >= e) return n as T;
      if (n.left !== null && n.left.maxEnd >= e) return anyEndingAfter(n.left, e) as T;
      n = n.right;
    }
    return undefined;
  }

  /** Every node overlapping [a, b) (start < b and end > a), collected into `out`. */
  collectOverlapping(a: number, b: number, out: T[]): T[] {
    const walk = (n: IntervalNode | null): void => {
      if (n === null || n.maxEnd <= a) return;
      walk(n.left);
      if (n.start < b) {
        if (n.end > a) out.push(n as T);
        walk(n.right);
      }
    };
    walk(this.#root);
    return out;
  }

  /** Every node, in (start, id) order. */
  toArray(): T[] {
    const out: T[] = [];
    const walk = (n: IntervalNode | null): void => {
      if (n === null) return;
      walk(n.left);
      out.push(n as T);
      walk(n.right);
    };
    walk(this.#root);
    return out;
  }

  clear(): void {
    this.#root = null;
    this.#size = 0;
  }
}
