/** World: the ranks of a PMIx job, connected by RDMA over one device stack per process. */
export { World, type WorldOptions } from './world.js';
