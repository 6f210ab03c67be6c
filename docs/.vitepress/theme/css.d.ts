// Stylesheets are imported for their effect only; Vite bundles them.
declare module "*.css";
