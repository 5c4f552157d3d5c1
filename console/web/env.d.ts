/** Style sheets imported for esbuild to bundle (console/assets.ts). */
declare module '*.css';
