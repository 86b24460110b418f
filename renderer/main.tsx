// Entry point of the UI: connects to the studio (desktop bridge or web mode) and renders the app.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { connect } from './api/connect.ts';
import { App } from './app/App.tsx';
import './styles.css';

const { api, host } = connect();
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App api={api} host={host} />
  </StrictMode>,
);
