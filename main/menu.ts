// The application menu: the studio's screens, the data folder, and the standard edit/view/window roles.
import { app, BrowserWindow, Menu, shell, type MenuItemConstructorOptions } from 'electron';
import { appOrigin } from './protocols.ts';

function show(screen: string): void {
  const window = BrowserWindow.getFocusedWindow() ?? BrowserWindow.getAllWindows()[0];
  void window?.loadURL(`${appOrigin}/index.html#/${screen}`);
}

export function installMenu(home: string): void {
  const isMac = process.platform === 'darwin';
  const template: MenuItemConstructorOptions[] = [
    ...(isMac ? [{ role: 'appMenu' as const }] : []),
    {
      label: 'File',
      submenu: [
        { label: 'Import Checkpoint…', accelerator: 'CmdOrCtrl+I', click: () => show('models') },
        { label: 'Open Data Folder', click: () => void shell.openPath(home) },
        { type: 'separator' },
        { label: 'Settings', accelerator: 'CmdOrCtrl+,', click: () => show('settings') },
        { type: 'separator' },
        isMac ? { role: 'close' } : { role: 'quit' },
      ],
    },
    { role: 'editMenu' },
    {
      label: 'View',
      submenu: [
        { label: 'Generate', accelerator: 'CmdOrCtrl+1', click: () => show('generate') },
        { label: 'Models', accelerator: 'CmdOrCtrl+2', click: () => show('models') },
        { label: 'History', accelerator: 'CmdOrCtrl+3', click: () => show('history') },
        { type: 'separator' },
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { type: 'separator' },
        { role: 'togglefullscreen' },
        ...(app.isPackaged ? [] : [{ role: 'toggleDevTools' as const }]),
      ],
    },
    { role: 'windowMenu' },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}
