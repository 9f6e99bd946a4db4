export { maintenanceProcessor, maintenanceTasks } from './maintenance.jobs.js';
export { schedule, scheduleMaintenance } from './maintenance.schedule.js';
