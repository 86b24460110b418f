// Side-effect imports of stylesheets are handled by Vite (bundled into one CSS file).
declare module '*.css';
