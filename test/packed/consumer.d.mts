export const ROOT: string;
export const CONSUMER: string;
export const READY: string;
